from django.apps import AppConfig


class ListeningConfig(AppConfig):
    name = "guanwei.listening"
    label = "listening"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "listening"
