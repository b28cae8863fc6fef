from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "guanwei.ops"
    label = "ops"
    default_auto_field = "django.db.models.BigAutoField"
