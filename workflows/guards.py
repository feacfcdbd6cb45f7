"""Guard conditions of transitions. Each raises DomainError with a French message, or returns None.

A guard receives the object and the transition inputs; `inputs is None` means "can this be offered now?"
(buttons, available transitions), in which case guards that depend on inputs stay silent.
"""

import datetime
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from workflows.errors import DomainError


def _today():
    return timezone.localdate()


def _number(value) -> str:
    """154.50 → "154,5": a number of hours in the page's language, without trailing zeros."""
    return formats.number_format(Decimal(format(Decimal(value).normalize(), "f")), use_l10n=True)


def _fmt(day):
    return day.strftime("%d/%m/%Y")


def offer_open(referral, inputs):
    if not referral.offer.is_open:
        raise DomainError("offer_closed", _("L'offre « %(title)s » est clôturée.") % {"title": referral.offer.title})


def reads(name):
    """Marks a guard that reads the database: for a page of rows the engine has the model read `name` for all of them
    at once (`Model.read_for_guards(name, rows)`) before asking the guard row by row."""

    def mark(guard):
        guard.reads = name
        return guard

    return mark


def reads_on_input(name, field):
    """Marks a guard that reads the database on a date the transition's inputs give (`field`): asked with the locked
    row (`Model.guard_annotations(name, inputs[field])`) when the service passes its inputs to the lock
    (parcours.services.common.lock, as a hire does), else by the guard itself; never for a page of rows (a guard
    given no inputs stays silent)."""

    def mark(guard):
        guard.reads_on_input = (name, field)
        return guard

    return mark


def file_closed(participant):
    """The refusal every write on an anonymised file meets (retention erased its personal data for good: filled in
    again, it would hold an identity no retention pass looks at any more), else None. Asked by the services and by
    the pages that offer those writes."""
    if participant.anonymised_at is None:
        return None
    return DomainError(
        "participant_anonymised",
        _(
            "Ce dossier a été anonymisé (durée de conservation écoulée) : il ne peut plus être modifié ni rouvert. "
            "Si la personne revient, ouvrez-lui un nouveau dossier."
        ),
    )


@reads("participant")
def participant_not_anonymised(pathway, inputs):
    refusal = file_closed(pathway.participant)  # read with the locked row, or for the whole page
    if refusal is not None:
        raise refusal


@reads("eligible_today")
def eligibility_valid_today(obj, inputs):
    if not obj.participant_eligible_on(_today()):
        raise DomainError(
            "eligibility_not_valid",
            _("L'éligibilité du ou de la participant·e n'est pas validée ou a expiré."),
        )


@reads_on_input("eligible_at_start", "start_date")
def eligibility_valid_at_start(referral, inputs):
    if inputs is None:
        return
    start = inputs.get("start_date")
    # The lot's counting rules may accept an eligibility validated a few days after the start (charter).
    grace = referral.offer.lot.counting_rules.eligibility_grace_days
    if isinstance(start, datetime.date) and not referral.participant_eligible_on(start, grace_days=grace):
        late = (
            _(" (ou dans les %(grace)s jours qui suivent, selon les règles de comptage du lot)") % {"grace": grace}
            if grace
            else ""
        )
        raise DomainError(
            "eligibility_not_valid",
            _(
                "L'éligibilité n'est pas valide au %(start)s, date de début du contrat : elle doit être "
                "validée au plus tard ce jour-là%(late)s, sinon les heures ne comptent pas pour la clause."
            )
            % {"start": _fmt(start), "late": late},
            field="start_date",
        )


def _after_reopening(pathway, start):
    """A reopened pathway's contract begins after the reopening: before it, the young person had left the pathway
    (its exit is counted), and the hours of those months would count for the clause all the same."""
    reopened_on = pathway.reopened_on
    if isinstance(start, datetime.date) and reopened_on is not None and start < reopened_on:
        raise DomainError(
            "start_before_reopening",
            _(
                "Le parcours a été rouvert le %(reopened_on)s : le contrat ne peut pas commencer avant (la personne "
                "était alors sortie du parcours)."
            )
            % {"reopened_on": _fmt(reopened_on)},
            field="start_date",
        )


def start_after_reopening(referral, inputs):
    if inputs is not None:
        _after_reopening(referral.pathway, inputs.get("start_date"))


def start_in_execution_window(referral, inputs):
    if inputs is None:
        return
    start = inputs.get("start_date")
    lot = referral.offer.lot
    if isinstance(start, datetime.date) and not (lot.execution_starts_on <= start <= lot.execution_ends_on):
        raise DomainError(
            "outside_execution_window",
            _(
                "La date de début doit être dans la période d'exécution du lot (%(execution_starts_on)s – "
                "%(execution_ends_on)s)."
            )
            % {"execution_starts_on": _fmt(lot.execution_starts_on), "execution_ends_on": _fmt(lot.execution_ends_on)},
            field="start_date",
        )


@reads("pending_assessment")
def assessment_submitted(pathway, inputs):
    assessment = pathway.pending_assessment()
    if assessment is None or not (assessment.declares_criteria or assessment.derogation_reason):
        raise DomainError(
            "assessment_incomplete",
            _("Aucun critère d'éligibilité ni dérogation motivée n'a été déclaré pour ce parcours."),
        )


def criteria_apply(pathway, inputs):
    """An age-bound criterion (its `max_age`: « Jeune de moins de 26 ans ») applies only to someone at most that old on
    the day it is declared and on the day eligibility is validated: eligibility is assessed at entry into the scheme,
    so once validated it holds for its validity period, even after the person turns 26 (referral, hire)."""
    if inputs is None:
        return  # the refusal names the criterion: on submission, not by hiding the button
    bound = pathway.criteria_age_bound()
    if bound is None:
        return
    label, max_age = bound
    day = _today()
    participant = pathway.participant
    age = participant.age_on(day)
    if age > max_age:
        raise DomainError(
            "criterion_age_not_met",
            _("Le critère « %(criterion)s » ne s'applique pas : %(participant)s a %(age)s ans le %(day)s.")
            % {"criterion": label, "participant": participant, "age": age, "day": _fmt(day)},
            field="criteria",
        )


def placement_start_reached(placement, inputs):
    if placement.start_date > _today():
        raise DomainError(
            "start_in_future",
            _("Le contrat ne commence que le %(start_date)s.") % {"start_date": _fmt(placement.start_date)},
        )


def placement_start_after_reopening(placement, inputs):
    """A contract hired before its pathway was left and reopened begins after the reopening, as a new hire does."""
    if inputs is not None:
        _after_reopening(placement.pathway, placement.start_date)


def new_start_date_valid(placement, inputs):
    """A corrected start date: a real change, inside the lot's execution window, with eligibility valid then."""
    if inputs is None:
        return
    start = inputs.get("start_date")
    if not isinstance(start, datetime.date):
        return
    if start == placement.start_date:
        raise DomainError(
            "invalid_input", _("La date de début est déjà le %(start)s.") % {"start": _fmt(start)}, field="start_date"
        )
    lot = placement.lot
    if not (lot.execution_starts_on <= start <= lot.execution_ends_on):
        raise DomainError(
            "outside_execution_window",
            _(
                "La date de début doit être dans la période d'exécution du lot (%(execution_starts_on)s – "
                "%(execution_ends_on)s)."
            )
            % {"execution_starts_on": _fmt(lot.execution_starts_on), "execution_ends_on": _fmt(lot.execution_ends_on)},
            field="start_date",
        )
    if placement.planned_end_date and start > placement.planned_end_date:
        raise DomainError(
            "end_before_start",
            _("La nouvelle date de début suit la fin prévue du contrat (%(planned_end)s).")
            % {"planned_end": _fmt(placement.planned_end_date)},
            field="start_date",
        )
    _after_reopening(placement.pathway, start)
    if not placement.participant_eligible_on(start):
        raise DomainError(
            "eligibility_not_valid",
            _("L'éligibilité n'est pas valide au %(start)s, date de début du contrat.") % {"start": _fmt(start)},
            field="start_date",
        )


@reads_on_input("hours_after", "end_date")
def end_date_valid(placement, inputs):
    if inputs is None:
        return
    end = inputs.get("end_date")
    if isinstance(end, datetime.date):
        if end > _today():
            raise DomainError("date_in_future", _("La date de fin ne peut pas être dans le futur."), field="end_date")
        if placement.started_on and end < placement.started_on:
            raise DomainError(
                "end_before_start", _("La date de fin est antérieure au début du contrat."), field="end_date"
            )
        # Hours of a later month would count for a contract over: its lines are rejected (or corrected) first.
        # Nor may the end leave its own month with more hours than the days up to it allow (154 h declared for
        # October, a contract ended on 9 October: 53.9 h at most), which every report would still count.
        declared = placement.hours_in_month_of(end)
        if declared:
            allowed = placement.month_capacity(end.replace(day=1), end=end, today=_today())
            if declared > allowed.maximum:
                raise DomainError(
                    "hours_after_end",
                    _(
                        "%(declared)s h sont déclarées pour %(month)s, plus que le contrat ne permet jusqu'au "
                        "%(end)s (%(maximum)s h au plus) : la structure porteuse doit d'abord les corriger "
                        "(rejet ou régularisation), ou choisissez une date de fin plus tardive."
                    )
                    % {
                        "declared": _number(declared),
                        "month": end.strftime("%m/%Y"),
                        "end": _fmt(end),
                        "maximum": _number(allowed.maximum),
                    },
                    field="end_date",
                )
        later = placement.last_month_with_hours_after(end)
        if later is not None:
            raise DomainError(
                "hours_after_end",
                _(
                    "Des heures sont déclarées pour %(month)s, après cette date de fin : la structure porteuse "
                    "doit d'abord les rejeter, ou choisissez une date de fin dans ce mois."
                )
                % {"month": later.strftime("%m/%Y")},
                field="end_date",
            )
    if inputs.get("end_kind") == "early" and not (inputs.get("reason") or "").strip():
        raise DomainError("missing_input", _("Le motif est obligatoire pour une fin anticipée."), field="reason")


@reads_on_input("contract_started_after", "exited_on")
def exit_date_valid(pathway, inputs):
    """The exit closes the pathway's current period: it is not dated before the pathway's start, its latest reopening
    (what came before belongs to a period already closed), nor the start of one of its contracts (the file, the ESF
    export and the six-month outcome follow that date). A contract still running does not stop it: the exit does not
    end it; one planned but not started does not count."""
    if inputs is None:
        return
    day = inputs.get("exited_on")
    if not isinstance(day, datetime.date):
        return
    if day > _today():
        raise DomainError("date_in_future", _("La date de sortie ne peut pas être dans le futur."), field="exited_on")
    if day < pathway.started_on:
        raise DomainError(
            "exit_before_start",
            _("La date de sortie ne peut pas précéder le début du parcours, le %(started_on)s.")
            % {"started_on": _fmt(pathway.started_on)},
            field="exited_on",
        )
    if pathway.reopened_on is not None and day < pathway.reopened_on:
        raise DomainError(
            "exit_before_reopening",
            _(
                "Le parcours a été rouvert le %(reopened_on)s : la date de sortie ne peut pas précéder cette "
                "réouverture."
            )
            % {"reopened_on": _fmt(pathway.reopened_on)},
            field="exited_on",
        )
    started = pathway.contract_started_after(day)  # read with the locked row
    if started is not None:
        raise DomainError(
            "exit_before_contract",
            _("Un contrat du parcours a commencé le %(started)s : la date de sortie ne peut pas précéder ce début.")
            % {"started": _fmt(started)},
            field="exited_on",
        )


def month_in_execution_window(hours_line, inputs):
    lot = hours_line.placement.lot
    if not lot.month_in_execution_window(hours_line.month):
        raise DomainError(
            "outside_execution_window",
            _(
                "Le mois déclaré est hors de la période d'exécution du lot (%(execution_starts_on)s – "
                "%(execution_ends_on)s)."
            )
            % {"execution_starts_on": _fmt(lot.execution_starts_on), "execution_ends_on": _fmt(lot.execution_ends_on)},
        )
