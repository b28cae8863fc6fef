from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "guanwei.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core import exports
        from guanwei.core.audit import register_action_labels
        from guanwei.listening import consumers
        from guanwei.monitoring import matching, queries

        exports.register(
            exports.ExportKind(
                name="monitor_mentions", label=_("监控匹配的提及"), permission="monitor.manage",
                filename="guanwei-monitor", queryset=queries.matches_for_export, lines=queries.export_lines,
            )
        )  # fmt: skip

        consumers.register("monitoring", matching.handle, fields=matching.FIELDS, prepare=matching.prepare)
        register_action_labels(
            {
                "monitor.created": _("新建监控"),
                "monitor.changed": _("修改监控"),
                "monitor.deleted": _("删除监控"),
                "monitor.alert_rule_changed": _("修改预警规则"),
                "incident.opened": _("开启事件"),
                "incident.changed": _("修改事件"),
                "incident.state_changed": _("事件状态变化"),
                "incident.statement_drafted": _("在事件中起草声明"),
            },
            {
                **dict.fromkeys(["monitor.created", "monitor.changed", "monitor.deleted", "monitor.alert_rule_changed"],
                                lambda p: str(p.get("name", ""))),
                **dict.fromkeys(["incident.opened", "incident.changed", "incident.state_changed", "incident.statement_drafted"],
                                lambda p: str(p.get("title", ""))),
            },  # fmt: skip
        )
