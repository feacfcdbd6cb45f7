from django.apps import AppConfig


class ParcoursConfig(AppConfig):
    name = "parcours"
    verbose_name = "Parcours"
    default_auto_field = "django.db.models.BigAutoField"
