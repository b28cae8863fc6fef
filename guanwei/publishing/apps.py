from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "guanwei.publishing"
    label = "publishing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core.audit import register_action_labels

        register_action_labels(
            {
                "post.created": _("创建内容"),
                "post.edited": _("修改内容"),
                "target.state_changed": _("发布状态变化"),
            },
            {
                "post.created": lambda p: str(p.get("excerpt", "")),
                "post.edited": lambda p: str(p.get("excerpt", "")),
            },
        )
