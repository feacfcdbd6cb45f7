from django.apps import AppConfig


class ParcoursConfig(AppConfig):
    name = "parcours"
    verbose_name = "Parcours"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from parcours import checks  # noqa: F401  (registers the system checks)
