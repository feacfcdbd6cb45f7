from django.conf import settings
from django.db import models
from django.utils import timezone


class JournalEvent(models.Model):
    """One append-only audit event: a transition, a creation, or a change of participant data.

    Events carry ids, state names and codes, never personal data values, so that anonymising a participant
    never rewrites history. `previous_hash` chains the events of one object; `hash` seals this event.
    On PostgreSQL a trigger refuses UPDATE and DELETE on this table.
    """

    occurred_at = models.DateTimeField("date", default=timezone.now, db_index=True)
    # RESTRICT: an account that acted can never be deleted while its actions are on record.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="utilisateur",
    )
    actor_organisation = models.ForeignKey(
        "roles.Organisation",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="organisation",
    )
    actor_role = models.CharField("rôle", max_length=20)
    object_type = models.CharField("objet", max_length=30)
    object_id = models.BigIntegerField("identifiant")
    participant_id = models.BigIntegerField("participant", null=True, blank=True, db_index=True)
    action = models.CharField("action", max_length=50)
    from_state = models.CharField("état avant", max_length=30, blank=True)
    to_state = models.CharField("état après", max_length=30, blank=True)
    reason = models.TextField("motif", blank=True)
    inputs = models.JSONField("données", default=dict, blank=True)
    sequence = models.PositiveIntegerField("rang")
    previous_hash = models.CharField("empreinte précédente", max_length=64, blank=True)
    hash = models.CharField("empreinte", max_length=64, unique=True)

    class Meta:
        verbose_name = "événement du journal"
        verbose_name_plural = "journal"
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "object_id", "sequence"], name="journal_unique_sequence"),
            models.CheckConstraint(
                condition=(
                    models.Q(sequence=1, previous_hash="") | models.Q(sequence__gt=1) & ~models.Q(previous_hash="")
                ),
                name="journal_chain_link_present",
            ),
        ]
        indexes = [models.Index(fields=["object_type", "object_id", "sequence"], name="journal_object_idx")]

    def __str__(self):
        return f"{self.object_type}#{self.object_id} {self.action} ({self.from_state} → {self.to_state})"


class AccessChannel(models.TextChoices):
    PAGE = "page", "Page"
    API = "api", "API"
    EXPORT = "export", "Export"
    ADMIN = "admin", "Administration"


class ParticipantAccess(models.Model):
    """Who read which participant file, when, in which capacity (kept ACCESS_LOG_RETENTION_DAYS)."""

    accessed_at = models.DateTimeField("date", default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        "roles.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    role = models.CharField("rôle", max_length=20, blank=True)
    participant_id = models.BigIntegerField("participant", db_index=True)
    channel = models.CharField("canal", max_length=10, choices=AccessChannel.choices)
    purpose = models.CharField("objet", max_length=50, default="view")

    class Meta:
        verbose_name = "consultation de dossier"
        verbose_name_plural = "consultations de dossiers"
        ordering = ["-accessed_at"]

    def __str__(self):
        return f"{self.user} → participant #{self.participant_id} ({self.accessed_at:%d/%m/%Y %H:%M})"
