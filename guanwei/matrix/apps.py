from django.apps import AppConfig


class MatrixConfig(AppConfig):
    name = "guanwei.matrix"
    label = "matrix"
    default_auto_field = "django.db.models.BigAutoField"
