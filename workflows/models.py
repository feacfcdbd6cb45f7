from django.conf import settings
from django.db import models
from django.utils import timezone


class JournalEventManager(models.Manager):
    def get_queryset(self):
        # The free-text reason lives in its own row (erasable): always read with its event, in the same query.
        return super().get_queryset().select_related("reason_record")


class JournalEvent(models.Model):
    """One append-only audit event: a transition, a creation, or a change of participant data.

    Events carry ids, state names and codes, never personal data values, so that anonymising a participant
    never rewrites history; a free-text reason is kept beside the event (JournalReason) and only its keyed digest
    is sealed. `previous_hash` chains the events of one object; `hash` seals this event with the journal key
    `key_id` (HMAC-SHA256; the key lives outside the database). Triggers refuse UPDATE and DELETE.
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
    reason_digest = models.CharField("empreinte du motif", max_length=64, blank=True)
    inputs = models.JSONField("données", default=dict, blank=True)
    sequence = models.PositiveIntegerField("rang")
    previous_hash = models.CharField("empreinte précédente", max_length=64, blank=True)
    key_id = models.CharField("clé de scellement", max_length=40)
    hash = models.CharField("empreinte", max_length=64)

    objects = JournalEventManager()

    class Meta:
        verbose_name = "événement du journal"
        verbose_name_plural = "journal"
        ordering = ["occurred_at", "id"]
        constraints = [
            # Also the index of every chain read (the last event of an object, a timeline): no second index.
            models.UniqueConstraint(fields=["object_type", "object_id", "sequence"], name="journal_unique_sequence"),
            # A constraint rather than unique=True: PostgreSQL then gets no extra LIKE index on a random digest.
            models.UniqueConstraint(fields=["hash"], name="journal_unique_hash"),
            models.CheckConstraint(
                condition=(
                    models.Q(sequence=1, previous_hash="") | models.Q(sequence__gt=1) & ~models.Q(previous_hash="")
                ),
                name="journal_chain_link_present",
            ),
        ]

    def __str__(self):
        # Shown by the admin (titles, breadcrumbs): no code there, the admin shows the fields with their labels.
        return f"événement n° {self.pk}"

    def __repr__(self):
        states = f"{self.from_state} → {self.to_state}"
        return f"<JournalEvent {self.pk}: {self.object_type}#{self.object_id} {self.action} ({states})>"

    def _reason_record(self):
        if not self.reason_digest:
            return None
        try:
            return self.reason_record
        except JournalReason.DoesNotExist:
            return None

    @property
    def reason(self) -> str:
        """The free-text reason ("" if none, or once erased with its participant's personal data)."""
        record = self._reason_record()
        return record.text if record is not None else ""

    @property
    def reason_erased(self) -> bool:
        record = self._reason_record()
        return record is not None and record.erased_at is not None


class JournalReason(models.Model):
    """The free text of an event's reason, kept outside the sealed event so that it can be erased.

    The event seals a keyed digest of the text; the text may only be erased (emptied, `erased_at` set) when its
    participant is anonymised. Triggers refuse DELETE and any other UPDATE.
    """

    event = models.OneToOneField(
        JournalEvent,
        on_delete=models.RESTRICT,
        primary_key=True,
        related_name="reason_record",
        verbose_name="événement",
    )
    text = models.TextField("motif", blank=True)
    erased_at = models.DateTimeField("effacé le", null=True, blank=True)

    class Meta:
        verbose_name = "motif d'un événement"
        verbose_name_plural = "motifs des événements"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(erased_at__isnull=True) | models.Q(text=""), name="journal_reason_erased_empty"
            )
        ]

    def __str__(self):
        return f"motif de l'événement #{self.event_id}"


class JournalCheckpoint(models.Model):
    """A seal over the whole journal: the running digest of every event hash up to `last_event_id`, in id order.

    Each checkpoint continues the digest of the previous one and is signed with the journal key; a copy is written
    to a file that operators keep outside the database (`manage.py journal_checkpoint`, the timer worker). Deleting,
    truncating or rewriting events sealed by a checkpoint changes its count or its digest. Append-only.
    """

    created_at = models.DateTimeField("date", default=timezone.now)
    last_event_id = models.BigIntegerField("dernier événement")
    event_count = models.BigIntegerField("nombre d'événements")
    digest = models.CharField("empreinte globale", max_length=64)
    key_id = models.CharField("clé de signature", max_length=40)
    signature = models.CharField("signature", max_length=64, unique=True)

    class Meta:
        verbose_name = "point de contrôle du journal"
        verbose_name_plural = "points de contrôle du journal"
        ordering = ["-last_event_id"]
        constraints = [models.UniqueConstraint(fields=["last_event_id"], name="journal_checkpoint_unique_head")]

    def __str__(self):
        return f"point de contrôle du {self.created_at:%d/%m/%Y %H:%M} ({self.event_count} événements)"
