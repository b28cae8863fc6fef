from django.apps import AppConfig


class ListeningConfig(AppConfig):
    name = "guanwei.listening"
    label = "listening"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "listening"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core.audit import register_action_labels

        register_action_labels(
            {"mentions.import_started": _("导入提及文件")},
            {"mentions.import_started": lambda p: str(p.get("name", ""))},
        )
