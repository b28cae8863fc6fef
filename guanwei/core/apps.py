from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "guanwei.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guanwei.core import lookups

        lookups.register()  # integer `in` lookups ignore values no column can hold
