from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "guanwei.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core import exports, lookups, queries

        lookups.register()  # integer `in` lookups ignore values no column can hold
        exports.register(
            exports.ExportKind(
                name="audit",
                label=_("审计日志"),
                permission="audit.view",
                filename="guanwei-audit",
                queryset=queries.audit_filtered,
                lines=queries.audit_csv_lines,
            )
        )
