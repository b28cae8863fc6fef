from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "guanwei.ops"
    label = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guanwei.ops import checks  # noqa: F401  (registers the configuration checks)
