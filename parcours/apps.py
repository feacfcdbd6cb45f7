from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_migrate, post_save, pre_migrate
from django.urls import register_converter

from parcours.converters import IdConverter
from parcours.text import sqlite_fold


class ParcoursConfig(AppConfig):
    name = "parcours"
    verbose_name = "Parcours"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Before any URL configuration is imported: `<id:pk>` in every URL carrying an id (parcours.converters).
        register_converter(IdConverter, "id")
        # checks: registers the system checks; login_failures: remembers the addresses of failed logins.
        from parcours import audience_fill, checks, login_failures, notifications, participant_copy  # noqa: F401
        from parcours.selectors import current_state, lot_hours
        from parcours.work.listener import listener
        from roles.models import Membership
        from roles.passwords import password_set
        from workflows import journal, work

        # The work layer (viewflow flows, tasks, timers) listens to what the services report.
        work.subscribe(listener)
        # The hours counted per lot are kept as a summary: the journal tells it which lots changed.
        journal.subscribe(lot_hours.event_recorded)
        # Each event's audience is written down beside it, for the notifications page (parcours.notifications).
        journal.subscribe_written(notifications.event_written)
        # A live page's socket ends with its session, or with its user's access (parcours.notifications.end_live).
        user_logged_out.connect(notifications.session_signed_out, dispatch_uid="parcours.live_end.logout")
        post_save.connect(notifications.user_saved, sender=get_user_model(), dispatch_uid="parcours.live_end.user")
        password_set.connect(notifications.password_set, dispatch_uid="parcours.live_end.password")
        for signal in (post_save, post_delete):
            uid = "parcours.live_end.member"
            signal.connect(notifications.membership_changed, sender=Membership, dispatch_uid=uid)
        connection_created.connect(register_sqlite_functions, dispatch_uid="parcours.sqlite_functions")
        # SQLite's triggers keeping Participant.current_state are set aside while migrations rebuild tables.
        pre_migrate.connect(current_state.drop_sqlite_triggers, sender=self, dispatch_uid="parcours.current_state")
        post_migrate.connect(current_state.install_sqlite_triggers, sender=self, dispatch_uid="parcours.current_state")
        # Likewise those holding a referral's and a placement's copy of their pathway's participant.
        copy_uid = "parcours.participant_copy"
        pre_migrate.connect(participant_copy.drop_sqlite_triggers, sender=self, dispatch_uid=copy_uid)
        post_migrate.connect(participant_copy.install_sqlite_triggers, sender=self, dispatch_uid=copy_uid)
        # The audience of the journal's older events, left to do by migration 0034 (parcours.audience_fill).
        post_migrate.connect(audience_fill.fill_pending, sender=self, dispatch_uid="parcours.audience_fill")


def register_sqlite_functions(sender, connection, **kwargs):
    """SQLite has no unaccent: searches fold text with parcours.text.fold, registered on each connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("parcours_fold", 1, sqlite_fold, deterministic=True)
