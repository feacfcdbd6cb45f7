from django.apps import AppConfig


class RolesConfig(AppConfig):
    name = "roles"
    verbose_name = "Organisations et rôles"
    default_auto_field = "django.db.models.BigAutoField"
