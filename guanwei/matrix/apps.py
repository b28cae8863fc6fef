from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MatrixConfig(AppConfig):
    name = "guanwei.matrix"
    label = "matrix"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guanwei.core.audit import register_action_labels
        from guanwei.core.notifications import register_messages
        from guanwei.matrix.health import notice_text
        from guanwei.matrix.models import Health, MatrixRole, PlatformKind

        def label(choices, code):  # type: ignore[no-untyped-def]
            try:
                return str(choices(code).label)
            except ValueError:
                return str(code)

        register_messages({"account.health": notice_text})
        register_action_labels(
            {
                "connection.created": _("添加平台连接"),
                "connection.updated": _("修改平台连接"),
                "account.connected": _("连接账号"),
                "account.updated": _("修改账号在矩阵中的位置"),
                "account.removed": _("从矩阵移除账号"),
                "account.health_changed": _("账号状态变化"),
                "member.account_access_changed": _("修改成员可操作的账号"),
                "account.synced": _("从平台同步账号资料"),
                "account.token_renewed": _("账号授权已更新"),
            },
            summaries={
                "connection.created": lambda p: str(_("%(name)s（%(kind)s）"))
                % {**p, "kind": label(PlatformKind, p["kind"])},
                "account.connected": lambda p: str(_("@%(name)s（%(role)s）"))
                % {"name": p["name"], "role": label(MatrixRole, p["matrix_role"])},
                "account.health_changed": lambda p: str(_("@%(name)s：%(from)s → %(to)s"))
                % {"name": p["name"], "from": label(Health, p["from"]),
                   "to": label(Health, p["to"])},  # fmt: skip
                "account.token_renewed": lambda p: "@" + str(p["name"]),
            },
        )
