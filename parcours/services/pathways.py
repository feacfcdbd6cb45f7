from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.dates import add_months
from parcours.models import (
    AssessedCriterion,
    EligibilityAssessment,
    EligibilityCriterion,
    Exit,
    Pathway,
    Referral,
    exit_category_of,
)
from parcours.notifications import publish_on_commit
from parcours.selectors.register import criteria_without_proof
from parcours.services.common import (
    hold_row,
    lock,
    refuse_closed_file,
    require,
    require_choice,
    require_date,
    row_pk,
)
from parcours.services.participants import eligibility_validity_months
from parcours.services.referrals import referral_cancel
from roles.enums import OrganisationKind
from roles.grants import share_participant
from roles.models import Organisation
from roles.rows import insert_row, insert_rows, save_row
from roles.statements import Compiled
from workflows import engine, text
from workflows.errors import DomainError, StaleForm
from workflows.journal import chain_tail_of, record_event
from workflows.states import PATHWAY_OPEN_STATES, REFERRAL_OPEN_STATES
from workflows.transitions import MACHINES
from workflows.vocabulary import AssessmentDecision, ExitSituation, ProofKind


@transaction.atomic
def pathway_submit_eligibility(
    *, actor, pathway, criteria=(), derogation_reason: str = "", facilitation_organisation=None
):
    """The adviser declares the eligibility facts and sends the file to a facilitation organisation."""
    # The criteria declared and the facilitation organisation are read in the round trip of the pathway's lock,
    # after its wait (the organisation: the one given if a partner of the participant's Mission Locale, else the
    # first partner by name).
    codes = _declared_codes(criteria)
    declared_criteria, partner_rows = [], []
    also = [(_active_criteria(codes), declared_criteria)] if codes else []
    pathway_pk = row_pk(Pathway, pathway)
    given = None if facilitation_organisation is None else _organisation_pk(facilitation_organisation)
    partner = _FIRST_PARTNER if facilitation_organisation is None else _GIVEN_PARTNER
    partner_arguments = (pathway_pk,) if facilitation_organisation is None else (pathway_pk, given)
    if given != 0:  # 0: a value that names no organisation, refused below
        also.append((partner.statement(*partner_arguments), partner_rows))
    pathway = lock(Pathway, pathway_pk, actor=actor, also=also)
    engine.ensure_can_fire(pathway, "submit_eligibility", actor=actor)
    participant = pathway.participant
    found_partner = partner.objects(partner_rows, *partner_arguments) if partner_rows else []
    facilitation_organisation = found_partner[0] if found_partner else None
    if facilitation_organisation is None:
        if given is None:
            raise DomainError(
                "no_facilitation_partner", _("Votre Mission Locale n'a aucune structure porteuse partenaire.")
            )
        raise DomainError(
            "invalid_input",
            _("Cette structure porteuse n'est pas partenaire de votre Mission Locale."),
            field="facilitation_organisation",
        )
    found = {code: pk for pk, code, *_ in declared_criteria}  # code → id of the active criteria among those declared
    # Their labels and age bounds, for the guard (criteria_apply): read with them.
    pathway.keep_declared_criteria([(label, max_age) for _pk, _code, label, max_age in declared_criteria])
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise DomainError(
            "invalid_input", _("Critère inconnu : %(unknown)s.") % {"unknown": ", ".join(unknown)}, field="criteria"
        )
    derogation_reason = engine.check_service_inputs(
        pathway, "submit_eligibility", derogation_reason=derogation_reason or ""
    )["derogation_reason"]
    if not found and not derogation_reason:
        raise DomainError(
            "missing_input",
            _("Choisissez au moins un critère d'éligibilité ou motivez une dérogation."),
            field="criteria",
        )
    # The facilitators' grant goes with the assessment's insert (not with the pathway's change: the tally's triggers
    # count both, see roles.rows._with).
    granted = share_participant(organisation=facilitation_organisation, participant=participant, send_with_next=True)
    assessment = insert_row(
        EligibilityAssessment(
            participant=participant, pathway=pathway, derogation_reason=derogation_reason, submitted_by=actor.user
        ),
        along=granted,
    )
    # Their ids are not read: the rows go with the transition's statement (engine.fire `along`).
    declared = insert_rows(
        [AssessedCriterion(assessment=assessment, criterion_id=pk) for pk in found.values()], send_with_next=True
    )
    pathway.facilitation_organisation = facilitation_organisation
    # The journal names the assessment, never the criteria: which criteria were declared may be health data
    # (RQTH, AAH), readable on the assessment through the policy; the journal only says how many.
    event = engine.fire(
        pathway,
        "submit_eligibility",
        actor=actor,
        journal_extra={
            "assessment": assessment.pk,
            "criteria_count": len(found),
            "facilitation_organisation": facilitation_organisation.pk,
            "derogation": bool(derogation_reason),
        },
        along=declared,
    )
    publish_on_commit(event)
    return pathway


def _declared_codes(criteria) -> list:
    """The criteria's codes, sorted, each once; refused unless a list of texts (the forms and the API give one)."""
    refused = DomainError("invalid_input", _("Critères : une liste de codes est attendue."), field="criteria")
    if isinstance(criteria, (str, bytes, dict)):
        raise refused
    try:
        codes = list(criteria or ())
    except TypeError:
        raise refused from None
    if not all(isinstance(code, str) for code in codes):
        raise refused
    return sorted(set(codes))


def _partners_of(pathway_pk):
    """The facilitation organisations partner of the Mission Locale of the pathway's participant."""
    agency = Pathway.objects.filter(pk=pathway_pk).values("participant__youth_agency_id")
    return Organisation.objects.filter(partners__in=agency, kind=OrganisationKind.FACILITATION)


_FIRST_PARTNER = Compiled(lambda pathway_pk: _partners_of(pathway_pk).order_by("name", "pk")[:1], arguments=1)
_GIVEN_PARTNER = Compiled(lambda pathway_pk, pk: _partners_of(pathway_pk).filter(pk=pk)[:1], arguments=2)


def _organisation_pk(organisation) -> int:
    """The id of an organisation given as a row or an id; 0 for a value that names none."""
    try:
        return row_pk(Organisation, organisation)
    except DomainError:
        return 0


def _active_criteria(codes):
    """The read of the active criteria among `codes` (their id, code, label and age bound), as a statement for
    another read's round trip (`common.lock(..., also=)`): the codes are its arguments, one compiled read per number
    of codes (up to `_COMPILED_CODES`; a longer list, from a direct call only, is compiled at each call)."""
    read = _ACTIVE_CRITERIA.get(len(codes))
    if read is None:
        read = Compiled(_active_among, arguments=len(codes))
        if len(codes) <= _COMPILED_CODES:
            read = _ACTIVE_CRITERIA.setdefault(len(codes), read)
    return read.statement(*codes)


def _active_among(*codes):
    return EligibilityCriterion.objects.filter(code__in=codes, is_active=True).values_list(
        "pk", "code", "label", "max_age"
    )


_ACTIVE_CRITERIA = {}  # number of codes → its compiled read
# The most codes the forms and the API take: the declared input's `max_items` (workflows.transitions).
_COMPILED_CODES = next(i for i in MACHINES["pathway"]["submit_eligibility"].inputs if i.name == "criteria").max_items


PROOF_MAX_AGE_MONTHS = 24  # a proof seen longer ago says nothing of the situation today (1900: a slip)


@transaction.atomic
def pathway_validate_eligibility(*, actor, pathway, valid_until=None, proofs: dict | None = None):
    """The facilitator validates eligibility; `proofs` maps criterion code → (proof kind, seen on)."""
    # Its guard's read (the pending assessment) comes back in the round trip of the lock.
    pathway = lock(Pathway, pathway, actor=actor, transition="validate_eligibility")
    engine.ensure_can_fire(pathway, "validate_eligibility", actor=actor)
    today = timezone.localdate()
    if valid_until is None:
        valid_until = add_months(today, eligibility_validity_months())
    require_date(valid_until, "valid_until", _("Valide jusqu'au"))
    if valid_until <= today:
        raise DomainError("invalid_input", _("La date de validité doit être dans le futur."), field="valid_until")
    longest = add_months(today, eligibility_validity_months())
    if valid_until > longest:
        raise DomainError(
            "invalid_input",
            _(
                "La validité ne peut pas dépasser la durée réglementaire (%(eligibility_validity_months)s "
                "mois, jusqu'au %(longest)s)."
            )
            % {"eligibility_validity_months": eligibility_validity_months(), "longest": format(longest, "%d/%m/%Y")},
            field="valid_until",
        )
    assessment = pathway.pending_assessment()
    for code, (kind, seen_on) in (proofs or {}).items():
        require_choice(kind, ProofKind, "proofs", _("Justificatif"))
        require_date(seen_on, "proofs", _("Justificatif vu le"))
        if seen_on > today:
            raise DomainError("invalid_input", _("Un justificatif ne peut pas être vu dans le futur."), field="proofs")
        if seen_on < add_months(today, -PROOF_MAX_AGE_MONTHS):
            raise DomainError(
                "invalid_input",
                _("Un justificatif vu il y a plus de %(proof_max_age_months)s mois ne prouve plus la situation.")
                % {"proof_max_age_months": PROOF_MAX_AGE_MONTHS},
                field="proofs",
            )
        updated = AssessedCriterion.objects.filter(assessment=assessment, criterion__code=code).update(
            proof_kind=kind, proof_seen_on=seen_on, proof_seen_by=actor.user
        )
        if not updated:
            raise DomainError(
                "invalid_input", _("Le critère « %(code)s » n'a pas été déclaré.") % {"code": code}, field="proofs"
            )
    if settings.PARCOURS["ELIGIBILITY_PROOF_REQUIRED"] and assessment is not None:
        unseen = criteria_without_proof(assessment)
        if unseen:
            raise DomainError(
                "proof_missing",
                _(
                    "Justificatif non vu pour : %(unseen)s. Votre plateforme exige un justificatif vu pour "
                    "chaque critère déclaré avant de valider l'éligibilité."
                )
                % {"unseen": ", ".join(unseen)},
                field="proofs",
            )
    # The guard (assessment_submitted) reads the assessment just read, not again (it reads neither its decision nor
    # its validity). The decision is written with the transition's statement, once every check has passed.
    pathway._guard_reads()["pending_assessment"] = assessment
    decided = None
    if assessment is not None:
        assessment.decision = AssessmentDecision.ACCEPTED
        assessment.valid_until = valid_until
        assessment.decided_by = actor.user
        assessment.decided_at = timezone.now()
        decided = save_row(assessment, send_with_next=True)
    event = engine.fire(
        pathway, "validate_eligibility", actor=actor, inputs={"valid_until": valid_until}, along=decided
    )
    pathway._guard_reads().pop("pending_assessment")
    publish_on_commit(event)
    return pathway


@transaction.atomic
def pathway_reject_eligibility(*, actor, pathway, reason: str):
    pathway = lock(Pathway, pathway, actor=actor)
    event = engine.fire(pathway, "reject_eligibility", actor=actor, inputs={"reason": reason})
    EligibilityAssessment.objects.filter(pathway=pathway, decision=AssessmentDecision.PENDING).update(
        decision=AssessmentDecision.REJECTED, decided_by=actor.user, decided_at=timezone.now()
    )
    publish_on_commit(event)
    return pathway


@transaction.atomic
def pathway_exit(*, actor, pathway, exited_on, situation, detail: str = ""):
    """The adviser records the exit: the Mission Locale's situation, its family of exits derived from it."""
    # Its guard's read (the latest contract start after the date given) comes with the locked row.
    pathway = lock(
        Pathway, pathway, actor=actor, transition="exit", inputs={"exited_on": exited_on}, reads=("open_referrals",)
    )
    if exited_on is not None:
        require_date(exited_on, "exited_on", _("Date de sortie"))
    if situation is not None:
        require_choice(situation, ExitSituation, "situation", _("Situation à la sortie"))
    detail = engine.check_service_inputs(pathway, "exit", detail=detail or "")["detail"]
    inputs = {"exited_on": exited_on, "situation": situation}
    category = exit_category_of(situation) if situation else None
    # The free-text detail stays on the Exit row, out of the journal (events never hold personal values). The row
    # goes with the transition's event (one statement on PostgreSQL), once every check of the transition has passed.
    exit_row = Exit(
        pathway=pathway,
        exited_on=exited_on,
        situation=situation,
        category=category,
        detail=detail,
        recorded_by=actor.user,
    )
    if _cancel_open_referrals(actor, pathway, "exit", _reason()):
        pathway.refresh_from_db()
        chain_tail_of(pathway)  # forgotten: the exit's event reads its chain's tail after the cancellations
    event = engine.fire(
        pathway,
        "exit",
        actor=actor,
        inputs=inputs,
        journal_extra={"category": category},
        along=insert_rows([exit_row], send_with_next=True),
    )
    publish_on_commit(event)
    return pathway


@transaction.atomic
def exit_record_outcome(*, actor, exit, observed_on, situation, detail: str = "", today=None):
    """The adviser records the situation six months after an exit (the outcome the Mission Locale and the ESF
    report): journaled on the pathway, with codes only."""
    today = today or timezone.localdate()
    exit = lock(Exit, exit, actor=actor)
    require(
        actor,
        "exit.record_outcome",
        exit,
        _("Seule la Mission Locale qui suit le ou la jeune renseigne sa situation."),
    )
    refuse_closed_file(exit.pathway.participant)
    require_date(observed_on, "observed_on", _("Date de constat"))
    require_choice(situation, ExitSituation, "situation", _("Situation à 6 mois"))
    detail = text.clean_text(detail or "", field="detail", label=_("Précision"))
    if len(detail) > 200:
        raise DomainError("invalid_input", _("Précision : 200 caractères au plus."), field="detail")
    if observed_on > today:
        raise DomainError(
            "date_in_future", _("La date de constat ne peut pas être dans le futur."), field="observed_on"
        )
    due = exit.outcome_due_on
    if observed_on < due:
        raise DomainError(
            "outcome_too_early",
            _("La situation à 6 mois se constate à partir du %(due)s (sortie le %(exited_on)s).")
            % {"due": format(due, "%d/%m/%Y"), "exited_on": format(exit.exited_on, "%d/%m/%Y")},
            field="observed_on",
        )
    first = exit.outcome_observed_on is None
    exit.outcome_observed_on = observed_on
    exit.outcome_situation = situation
    exit.outcome_category = exit_category_of(situation)
    exit.outcome_detail = detail
    exit.outcome_recorded_by = actor.user
    exit.save()
    # The event goes to the pathway's chain: its row lock orders it with the pathway's transitions (a reopening).
    hold_row(Pathway, exit.pathway_id)
    event = record_event(
        actor=actor,
        object_type="pathway",
        object_id=exit.pathway_id,
        participant_id=exit.pathway.participant_id,
        action="record_exit_outcome",
        inputs={
            "exit": exit.pk,
            "observed_on": observed_on,
            "situation": situation,
            "category": exit.outcome_category,
            "corrected": not first,
        },
    )
    publish_on_commit(event)
    return exit


def _reason(reason=""):
    # Written on the cancelled referrals (their history, in French as every stored text).
    return f"Parcours clos : {reason}" if reason else "Parcours clos : sortie enregistrée"


# Compiled once (roles.statements): every exit, withdrawal and loss of contact reads them.
_OPEN_REFERRALS = Compiled(
    lambda pathway_pk: Referral.objects.filter(pathway_id=pathway_pk, state__in=REFERRAL_OPEN_STATES).order_by("pk")
)


def _cancel_open_referrals(actor, pathway, name, reason) -> int:
    """Cancel the open referrals of a pathway its transition `name` closes (an employer must not hire from a closed
    pathway); returns how many. Under the pathway's lock, so no referral is added meanwhile; one added since the
    page acting was drawn (a colleague's) is refused as unseen rather than cancelled unsaid."""
    engine.ensure_can_fire(pathway, name, actor=actor)
    engine.check_seen(pathway, name)  # the pathway's own changes are named first
    # Read with the pathway's lock whether any is open (one round trip saved for most closings, which have none).
    referrals = _OPEN_REFERRALS(pathway.pk) if pathway.may_have_open_referrals() else []
    listed = engine.seen_listed("pathway", pathway.pk)
    unseen = [r for r in referrals if listed is not None and r.pk > listed]
    if unseen:
        raise StaleForm(
            machine="pathway",
            pk=pathway.pk,
            current=engine.chain_sequence("pathway", pathway.pk),
            events=[("refer", r.created_at) for r in unseen],
        )
    for referral in referrals:
        referral_cancel(actor=actor, referral=referral, reason=reason, _closing_pathway=True)
    return len(referrals)


def _close(actor, pathway, name, reason):
    pathway = lock(Pathway, pathway, actor=actor, reads=("open_referrals",))
    if _cancel_open_referrals(actor, pathway, name, _reason(reason)):
        pathway.refresh_from_db()
        chain_tail_of(pathway)  # forgotten: the closing event reads its chain's tail after the cancellations
    event = engine.fire(pathway, name, actor=actor, inputs={"reason": reason})
    publish_on_commit(event)
    return pathway


@transaction.atomic
def pathway_withdraw(*, actor, pathway, reason: str):
    return _close(actor, pathway, "withdraw", reason)


@transaction.atomic
def pathway_mark_lost_contact(*, actor, pathway, reason: str):
    return _close(actor, pathway, "mark_lost_contact", reason)


@transaction.atomic
def pathway_reopen(*, actor, pathway, reason: str):
    pathway = lock(Pathway, pathway, actor=actor)
    engine.ensure_can_fire(pathway, "reopen", actor=actor)
    if Pathway.objects.filter(participant_id=pathway.participant_id, state__in=PATHWAY_OPEN_STATES).exists():
        raise DomainError("pathway_already_open", _("Ce ou cette jeune a déjà un parcours ouvert."))
    event = engine.fire(pathway, "reopen", actor=actor, inputs={"reason": reason})
    publish_on_commit(event)
    return pathway


PATHWAY_SERVICES = {
    "submit_eligibility": pathway_submit_eligibility,
    "validate_eligibility": pathway_validate_eligibility,
    "reject_eligibility": pathway_reject_eligibility,
    "exit": pathway_exit,
    "withdraw": pathway_withdraw,
    "mark_lost_contact": pathway_mark_lost_contact,
    "reopen": pathway_reopen,
}
