"""Django admin of the audit records: the journal and its checkpoints, strictly read-only.

The journal is append-only (triggers refuse UPDATE and DELETE) and sealed with the journal key; the admin offers no
add, change or delete, hence no bulk delete action either.
"""

from django.contrib import admin

from workflows.models import JournalCheckpoint, JournalEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    list_per_page = 100
    show_full_result_count = False  # no COUNT(*) over the whole table on each filtered page

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# parcours.admin replaces this registration by a subclass that shows each code with its label (the engine knows
# neither the case models nor their words).
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
        "reason_digest",
        "inputs",
        "sequence",
        "previous_hash",
        "key_id",
        "hash",
    ]
    readonly_fields = ["reason"]


@admin.register(JournalCheckpoint)
class JournalCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "last_event_id", "event_count", "digest", "key_id"]
    ordering = ["-last_event_id"]
