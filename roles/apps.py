from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class RolesConfig(AppConfig):
    name = "roles"
    verbose_name = "Organisations et rôles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from roles import membership_kinds, policy  # models are loaded only now
        from roles.statements import keep_conversions_of_long_statements

        keep_conversions_of_long_statements()

        # Permissions are (re)created after migrations and test flushes: their cached ids must be read again.
        post_migrate.connect(policy.forget_permission_ids, dispatch_uid="roles.forget_permission_ids")
        # SQLite's triggers holding a membership's role to its organisation's kind (PostgreSQL's: migration 0004).
        pre_migrate.connect(membership_kinds.drop_sqlite_triggers, sender=self, dispatch_uid="roles.membership_kinds")
        post_migrate.connect(
            membership_kinds.install_sqlite_triggers, sender=self, dispatch_uid="roles.membership_kinds"
        )
