"""Django admin of the audit records: the journal and the participant access log, strictly read-only.

The journal is append-only (on PostgreSQL a trigger refuses UPDATE and DELETE) and hash-chained; the admin
offers no add, change or delete, hence no bulk delete action either.
"""

from django.contrib import admin

from workflows.models import JournalEvent, ParticipantAccess


class ReadOnlyAdmin(admin.ModelAdmin):
    list_per_page = 100
    show_full_result_count = False  # no COUNT(*) over the whole table on each filtered page

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JournalEvent)
class JournalEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "object_type",
        "object_id",
        "sequence",
        "action",
        "from_state",
        "to_state",
        "actor_user",
        "actor_organisation",
        "actor_role",
        "participant_id",
    ]
    list_display_links = ["occurred_at", "object_type"]
    list_filter = ["object_type", "action", "actor_role", "actor_organisation"]
    search_fields = ["=object_id", "=participant_id"]
    search_help_text = "Identifiant de l'objet ou du ou de la participant·e (nombre exact)."
    list_select_related = ["actor_user", "actor_organisation"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]
    fields = [
        "occurred_at",
        "actor_user",
        "actor_organisation",
        "actor_role",
        "object_type",
        "object_id",
        "participant_id",
        "action",
        "from_state",
        "to_state",
        "reason",
        "inputs",
        "sequence",
        "previous_hash",
        "hash",
    ]


@admin.register(ParticipantAccess)
class ParticipantAccessAdmin(ReadOnlyAdmin):
    list_display = ["accessed_at", "user", "organisation", "role", "participant_id", "channel", "purpose"]
    list_filter = ["channel", "role", "purpose", "organisation"]
    search_fields = ["=participant_id", "user__username"]
    search_help_text = "Identifiant du ou de la participant·e (nombre exact) ou nom d'utilisateur."
    list_select_related = ["user", "organisation"]
    date_hierarchy = "accessed_at"
