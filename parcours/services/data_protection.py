"""Data-subject rights and retention (RGPD; CNIL référentiel for social support, see docs/data-protection.md).

- the information notice handed to the young person, recorded by the adviser;
- the subject-access export of one participant (everything Parcours holds on them, and who consulted it);
- retention: files without human activity for RETENTION_INACTIVITY_MONTHS are announced to their Mission Locale,
  then anonymised after RETENTION_NOTICE_DAYS unless someone acted meanwhile; access-log rows older than
  ACCESS_LOG_RETENTION_DAYS are purged. Anonymising clears the personal fields and erases the free-text reasons
  beside the journal; the journal itself holds no personal value, so it still verifies.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.access_log import log_participant_access
from parcours.models import (
    EligibilityAssessment,
    Exit,
    FollowUp,
    HoursLine,
    Participant,
    ParticipantAccess,
    Pathway,
    Placement,
    Referral,
)
from parcours.notifications import publish_on_commit
from parcours.services.common import lock, refuse_closed_file, require, require_date
from roles.actor import Actor
from workflows.errors import DomainError
from workflows.journal import erase_reasons, record_event
from workflows.models import JournalEvent
from workflows.states import (
    PATHWAY_OPEN_STATES,
    REFERRAL_OPEN_STATES,
    HoursLineState,
    PlacementState,
)
from workflows.vocabulary import AccessChannel

ERASED = "[effacé]"


# --- Information notice ------------------------------------------------------------------------------------------
# A notice handed at a first meeting, the file opened in the weeks after it.
NOTICE_BEFORE_REGISTRATION_DAYS = 31


@transaction.atomic
def participant_record_notice(*, actor, participant, given_on) -> Participant:
    """The adviser records the day the information notice was handed to (or sent to) the young person."""
    participant = lock(Participant, participant, actor=actor)
    require(actor, "participant.record_notice", participant, _("Vous ne pouvez pas modifier ce dossier."))
    refuse_closed_file(participant)
    require_date(given_on, "given_on", _("Remise le"))
    today = timezone.localdate()
    if given_on > today:
        raise DomainError("date_in_future", _("La date de remise ne peut pas être dans le futur."), field="given_on")
    # The day of registration in Paris, as the file shows it (the UTC date is the day before until 01:00 or 02:00).
    registered_on = timezone.localtime(participant.created_at).date()
    earliest = registered_on - datetime.timedelta(days=NOTICE_BEFORE_REGISTRATION_DAYS)
    if given_on < earliest:
        raise DomainError(
            "invalid_input",
            _(
                "La notice se remet au plus tôt %(days)s jours avant l'inscription (le %(registered_on)s) : "
                "pas avant le %(earliest)s."
            )
            % {
                "days": NOTICE_BEFORE_REGISTRATION_DAYS,
                "registered_on": format(registered_on, "%d/%m/%Y"),
                "earliest": format(earliest, "%d/%m/%Y"),
            },
            field="given_on",
        )
    participant.notice_given_on = given_on
    participant.save(update_fields=["notice_given_on", "updated_at"])
    event = record_event(
        actor=actor,
        object_type="participant",
        object_id=participant.pk,
        participant_id=participant.pk,
        action="notice_given",
        inputs={"given_on": given_on},
    )
    publish_on_commit(event)
    return participant


# --- Subject-access export ---------------------------------------------------------------------------------------
@transaction.atomic
def participant_subject_access(*, actor, participant) -> Participant:
    """Authorise and record a subject-access export (droit d'accès, art. 15): the read is logged and journaled.
    The document itself is assembled by parcours.selectors.data_protection.subject_access_data."""
    participant = lock(Participant, participant, actor=actor)
    require(
        actor,
        "participant.export_subject_data",
        participant,
        _("Seule la Mission Locale qui suit le ou la jeune peut exporter ses données."),
    )
    log_participant_access(
        actor=actor, participant_id=participant.pk, channel=AccessChannel.EXPORT, purpose="subject_access"
    )
    event = record_event(
        actor=actor,
        object_type="participant",
        object_id=participant.pk,
        participant_id=participant.pk,
        action="subject_access_export",
    )
    publish_on_commit(event)
    return participant


# --- Retention ---------------------------------------------------------------------------------------------------
@dataclass
class RetentionReport:
    wet: bool
    inactive_since: datetime.datetime
    notified: list = field(default_factory=list)  # participant ids announced now
    cancelled: list = field(default_factory=list)  # announced, but someone acted since: kept
    anonymised: list = field(default_factory=list)
    access_rows_purged: int = 0


def _last_human_activity():
    """The moment of the last journal event a person (not the system) wrote about the participant."""
    return Subquery(
        JournalEvent.objects.filter(participant_id=OuterRef("pk"), actor_user__isnull=False)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )


def _still_open(participant):
    """Whether anything of the file still waits for someone: an open pathway, an open referral, a contract planned or
    running, hours not decided yet. A pathway left (exit, withdrawal) can leave a contract running: its end, its
    hours and their reasons are still to be written, on a file retention must not have emptied. `participant`: an
    id or an OuterRef."""
    return (
        Exists(Pathway.objects.filter(participant=participant, state__in=PATHWAY_OPEN_STATES))
        | Exists(Referral.objects.filter(participant_id=participant, state__in=REFERRAL_OPEN_STATES))
        | Exists(
            Placement.objects.filter(
                participant_id=participant, state__in=[PlacementState.PLANNED, PlacementState.ACTIVE]
            )
        )
        | Exists(HoursLine.objects.filter(placement__participant_id=participant, state=HoursLineState.DECLARED))
    )


def _candidates(inactive_since):
    return (
        Participant.objects.filter(anonymised_at__isnull=True)
        .annotate(last_activity=_last_human_activity())
        .filter(~_still_open(OuterRef("pk")))
        .filter(Q(last_activity__lt=inactive_since) | Q(last_activity__isnull=True, created_at__lt=inactive_since))
    )


def _system_event(participant, action, **inputs):
    event = record_event(
        actor=Actor.system(),
        object_type="participant",
        object_id=participant.pk,
        participant_id=participant.pk,
        action=action,
        inputs=inputs,
    )
    publish_on_commit(event)
    return event


def apply_retention(*, wet: bool = False, now=None) -> RetentionReport:
    """One retention pass. Dry run by default: the report says what a wet run would do, nothing is written."""
    now = now or timezone.now()
    options = settings.PARCOURS
    inactive_since = now - datetime.timedelta(days=round(options["RETENTION_INACTIVITY_MONTHS"] * 30.4375))
    notice_days = datetime.timedelta(days=options["RETENTION_NOTICE_DAYS"])
    report = RetentionReport(wet=wet, inactive_since=inactive_since)
    candidates = _candidates(inactive_since)
    # Announced files on which someone acted since the notice, or where something waits again, are kept (and their
    # notice withdrawn).
    announced = Participant.objects.filter(anonymised_at__isnull=True, retention_notice_at__isnull=False).annotate(
        last_activity=_last_human_activity(), still_open=_still_open(OuterRef("pk"))
    )
    for participant in announced.iterator():
        acted = participant.last_activity is not None and participant.last_activity > participant.retention_notice_at
        if acted or participant.still_open:
            report.cancelled.append(participant.pk)
            if wet:
                _withdraw_notice(participant.pk)
        elif participant.retention_notice_at <= now - notice_days:
            if wet and participant_anonymise(participant=participant.pk, now=now).anonymised_at is None:
                report.cancelled.append(participant.pk)  # reopened meanwhile: the next pass withdraws the notice
                continue
            report.anonymised.append(participant.pk)
    for participant in candidates.filter(retention_notice_at__isnull=True).iterator():
        report.notified.append(participant.pk)
        if wet:
            _announce(participant.pk, now=now, anonymise_on=(now + notice_days).date())
    cutoff = now - datetime.timedelta(days=options["ACCESS_LOG_RETENTION_DAYS"])
    old_reads = ParticipantAccess.objects.filter(accessed_at__lt=cutoff)
    report.access_rows_purged = old_reads.delete()[0] if wet else old_reads.count()
    return report


@transaction.atomic
def _announce(participant_id, *, now, anonymise_on):
    participant = Participant.objects.select_for_update().get(pk=participant_id)
    if participant.retention_notice_at is not None or participant.anonymised_at is not None:
        return  # another worker announced it first
    participant.retention_notice_at = now
    participant.save(update_fields=["retention_notice_at"])
    _system_event(participant, "retention_notice", anonymise_on=anonymise_on)


@transaction.atomic
def _withdraw_notice(participant_id):
    participant = Participant.objects.select_for_update().get(pk=participant_id)
    if participant.retention_notice_at is None:
        return
    participant.retention_notice_at = None
    participant.save(update_fields=["retention_notice_at"])
    _system_event(participant, "retention_cancelled")


PERSONAL_FIELDS = ["first_name", "last_name", "birth_date", "email", "phone", "postcode", "commune", "imilo_reference"]


@transaction.atomic
def participant_anonymise(*, participant, now=None) -> Participant:
    """Clear a participant's personal data for good; keep what pseudonymous statistics need (birth year,
    département, QPV, qualification, programme, criteria, states, dates, hours). The system does it."""
    now = now or timezone.now()
    participant = Participant.objects.select_for_update().get(pk=getattr(participant, "pk", participant))
    if participant.anonymised_at is not None:
        return participant
    # Its pathways' locks, as each transition of theirs takes: a reopening under way is waited for (and then seen
    # below), one that comes later reads the file anonymised (guards.participant_not_anonymised).
    list(Pathway.objects.filter(participant=participant).select_for_update(of=("self",), no_key=True).values("pk"))
    if Participant.objects.filter(pk=participant.pk).filter(_still_open(participant.pk)).exists():
        return participant  # reopened, or something still waits: nothing erased (the next pass announces it again)
    participant.first_name = "Anonyme"
    participant.last_name = participant.pseudonym
    participant.birth_date = participant.birth_date.replace(month=1, day=1)
    participant.email = ""
    participant.phone = ""
    participant.postcode = f"{participant.postcode[:2]}000"
    participant.commune = ""
    participant.imilo_reference = ""
    participant.anonymised_at = now
    participant.save()
    pathways = Pathway.objects.filter(participant=participant)
    FollowUp.objects.filter(pathway__in=pathways).update(note="")
    Exit.objects.filter(pathway__in=pathways).update(detail="", outcome_detail="")
    EligibilityAssessment.objects.filter(participant=participant).exclude(derogation_reason="").update(
        derogation_reason=ERASED
    )
    referrals = Referral.objects.filter(pathway__in=pathways)
    referrals.update(motivation="")
    referrals.exclude(decision_reason="").update(decision_reason=ERASED)
    Placement.objects.filter(pathway__in=pathways).exclude(end_reason="").update(end_reason=ERASED)
    HoursLine.objects.filter(placement__pathway__in=pathways).exclude(rejection_reason="").update(
        rejection_reason=ERASED
    )
    erased = erase_reasons(participant_id=participant.pk)
    _system_event(participant, "anonymise", fields=PERSONAL_FIELDS, reasons_erased=erased)
    return participant
