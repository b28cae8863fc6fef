from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "guanwei.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core.audit import register_action_labels
        from guanwei.listening import consumers
        from guanwei.monitoring import matching

        consumers.register("monitoring", matching.handle)
        register_action_labels(
            {
                "monitor.created": _("新建监控"),
                "monitor.changed": _("修改监控"),
                "monitor.deleted": _("删除监控"),
            },
            dict.fromkeys(["monitor.created", "monitor.changed", "monitor.deleted"], lambda p: str(p.get("name", ""))),
        )
