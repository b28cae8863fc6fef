from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MatrixConfig(AppConfig):
    name = "guanwei.matrix"
    label = "matrix"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guanwei.core.audit import register_action_labels

        register_action_labels(
            {
                "connection.created": _("添加平台连接"),
                "connection.updated": _("修改平台连接"),
                "account.connected": _("连接账号"),
                "account.updated": _("修改账号在矩阵中的位置"),
                "account.removed": _("从矩阵移除账号"),
                "account.health_changed": _("账号状态变化"),
                "member.account_access_changed": _("修改成员可操作的账号"),
            }
        )
