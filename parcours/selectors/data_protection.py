"""Reads for data protection: the subject-access document of one participant, and the access log as seen by the
Mission Locale following a file and by an organisation's data-protection officer (policy-scoped)."""

from django.contrib.auth import get_user_model
from django.db.models import BigIntegerField, CharField, Exists, F, OuterRef, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from parcours.models import (
    AssessedCriterion,
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
from parcours.selectors.journal import OBJECT_LABELS, ROLE_LABELS, action_label, event_state_label, person_name
from parcours.text import Folded, fold, pseudonym_number
from roles.models import Membership, Organisation
from roles.policy import allows, may, scope_queryset
from workflows.errors import DomainError
from workflows.models import JournalEvent


def _person(user):
    return person_name(user) or "système"


def _date(value):
    return value.isoformat() if value is not None else None


# --- The access log ---------------------------------------------------------------------------------------------
def participant_access_log(*, actor, participant_id=None, participant=None):
    """Who consulted one file, newest first — for the Mission Locale following it ('not found' otherwise).
    `participant`: the file's row already read in this request (its scopes kept: no query to check them again)."""
    if participant is None:
        participant = Participant.objects.filter(pk=participant_id).first()
    if participant is None or not allows(actor, "participant.view_access_log", participant):
        raise DomainError("not_found", _("Participant·e introuvable."))
    return ParticipantAccess.objects.filter(participant=participant).select_related("user", "organisation")


def access_log_for(actor, *, query="", channel="", since=None, until=None):
    """The access-log rows a data-protection officer may read: reads by members of their organisation, and reads
    of the files their Mission Locale follows; filterable by reader, file, channel and dates. Each word of `query`
    is looked for in the reader's login, in their name as the table writes it ("first last", accents, case and
    hyphens ignored) or as a file's pseudonym."""
    queryset = ParticipantAccess.objects.select_related("user", "organisation", "participant")
    queryset = scope_queryset(actor, "accesslog.view", queryset)
    if query:
        full_name = Concat("user__first_name", Value(" "), "user__last_name", output_field=CharField())
        queryset = queryset.annotate(reader_name=Folded(full_name))
    for word in (query or "").split():
        number = pseudonym_number(word)
        condition = Q(user__username__icontains=word)
        if folded := fold(word):  # punctuation alone folds to nothing, which every name contains
            condition |= Q(reader_name__contains=folded)
        if number is not None:
            condition |= Q(participant_id=number)
        queryset = queryset.filter(condition)
    if channel:
        queryset = queryset.filter(channel=channel)
    if since:
        queryset = queryset.filter(accessed_at__date__gte=since)
    if until:
        queryset = queryset.filter(accessed_at__date__lte=until)
    return queryset.order_by("-accessed_at", "-pk")


# --- The journal of memberships and accounts -----------------------------------------------------------------------
RIGHTS_FIELDS = {
    "organisation": gettext_lazy("organisation"),
    "role": gettext_lazy("rôle"),
    "is_active": gettext_lazy("actif·ve"),
    "named_access": gettext_lazy("accès nominatif"),
    "is_staff": gettext_lazy("accès à l'administration"),
    "is_superuser": gettext_lazy("super-utilisateur·rice"),
    "permissions": gettext_lazy("permissions"),
    "groups": gettext_lazy("groupes"),
}


ALWAYS_SHOWN = ("organisation", "role", "is_active")


def rights_log_for(actor):
    """Who granted what to whom, and when, in the data-protection officer's organisation: the events of its
    memberships (one in it now, or moved out of it: its previous organisation) and of its members' accounts, newest
    first (parcours.services.accounts journals them). Nothing for anyone else."""
    if not may(actor, "accesslog.view") or actor.organisation_id is None:
        return JournalEvent.objects.none()
    organisation = actor.organisation_id
    of_it = Q(object_type="membership", inputs__organisation=organisation) | Q(
        object_type="membership", inputs__previous__organisation=organisation
    )
    # The accounts of its members now, and of those its memberships' journal names (a membership deleted or moved
    # since keeps its history here) up to their last event in it: what happens to a leaver's account afterwards is
    # their new organisation's business.
    members = Membership.objects.filter(organisation_id=organisation).values("user_id")
    while_member = (
        JournalEvent.objects.filter(of_it)
        .annotate(member=Cast(KeyTextTransform("user", "inputs"), BigIntegerField()))
        .filter(member=OuterRef("object_id"), occurred_at__gte=OuterRef("occurred_at"))
    )
    accounts = Q(object_type="account") & (Q(object_id__in=members) | Exists(while_member))
    return JournalEvent.objects.filter(of_it | accounts).select_related("actor_user").order_by("-occurred_at", "-pk")


def describe_rights_events(events) -> list:
    """Each event of a page with `subject` (the person whose membership or account it is) and `detail` (what it
    records, previous values first), the people and organisations it names read in two queries."""
    events = list(events)
    user_ids = {e.inputs.get("user") if e.object_type == "membership" else e.object_id for e in events}
    organisation_ids = set()
    for event in events:
        for values in (event.inputs, event.inputs.get("previous") or {}):
            if values.get("organisation") is not None:
                organisation_ids.add(values["organisation"])
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids - {None})}
    organisations = dict(Organisation.objects.filter(pk__in=organisation_ids).values_list("pk", "name"))

    def shown(name, value):
        if name == "organisation":
            return organisations.get(value, f"#{value}")
        if name == "role":
            return str(ROLE_LABELS.get(value, value))
        if isinstance(value, bool):
            return _("oui") if value else _("non")
        if isinstance(value, list):
            return ", ".join(value) or _("aucune")
        return str(value)

    for event in events:
        subject_id = event.inputs.get("user") if event.object_type == "membership" else event.object_id
        subject = users.get(subject_id)
        event.subject = (subject.get_full_name() or subject.get_username()) if subject else f"#{subject_id}"
        event.label = action_label(event.object_type, event.action)
        previous = event.inputs.get("previous") or {}
        if previous:
            parts = [
                f"{RIGHTS_FIELDS[name]} : {shown(name, old)} → {shown(name, event.inputs.get(name))}"
                for name, old in previous.items()
                if name in RIGHTS_FIELDS
            ]
        else:
            # Created or deleted: what it gave (a right not held is left unsaid, but whether it is active).
            parts = [
                f"{RIGHTS_FIELDS[name]} : {shown(name, event.inputs[name])}"
                for name in RIGHTS_FIELDS
                if name in event.inputs and (name in ALWAYS_SHOWN or event.inputs[name] not in (False, [], None))
            ]
        event.detail = " ; ".join(parts)
    return events


# --- The subject-access document --------------------------------------------------------------------------------
def _day(moment):
    return _date(timezone.localdate(moment)) if moment is not None else None


def _moment(moment):
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment is not None else None


def _by(user):
    return _person(user) if user is not None else ""


def _shown(obj, field):
    """The label of a choice, "" when none was recorded."""
    return getattr(obj, f"get_{field}_display")() if getattr(obj, field) else ""


def _name(organisation):
    return organisation.name if organisation is not None else ""


# Each model's fields holding the person's data → (key in the document, value). Every concrete field of these
# models is either here or in SUBJECT_ACCESS_TECHNICAL_FIELDS (tests/test_data_protection.py checks both ways, so a
# field added later fails the test until it is exported or listed as technical).
SUBJECT_ACCESS_FIELDS = {
    Participant: {
        "id": ("pseudonyme", lambda p: p.pseudonym),
        "first_name": ("prenom", lambda p: p.first_name),
        "last_name": ("nom", lambda p: p.last_name),
        # An anonymised file kept the year alone (its 1 January is no birth date).
        "birth_date": (
            "date_de_naissance",
            lambda p: str(p.birth_date.year) if p.anonymised_at else _date(p.birth_date),
        ),
        "sex": ("sexe", lambda p: _shown(p, "sex")),
        "email": ("courriel", lambda p: p.email),
        "phone": ("telephone", lambda p: p.phone),
        "postcode": ("code_postal", lambda p: p.postcode),
        "commune": ("commune", lambda p: p.commune),
        "is_qpv_resident": ("reside_en_qpv", lambda p: p.is_qpv_resident),
        "qualification_level": ("niveau_de_qualification", lambda p: _shown(p, "qualification_level")),
        "programme": ("dispositif", lambda p: _shown(p, "programme")),
        "imilo_reference": ("identifiant_imilo", lambda p: p.imilo_reference),
        "youth_agency": ("mission_locale", lambda p: p.youth_agency.name),
        "referent_adviser": ("conseiller_referent", lambda p: _by(p.referent_adviser)),
        "created_at": ("inscrit_le", lambda p: _day(p.created_at)),
        "notice_given_on": ("notice_d_information_remise_le", lambda p: _date(p.notice_given_on)),
        "retention_notice_at": ("anonymisation_annoncee_le", lambda p: _day(p.retention_notice_at)),
        "anonymised_at": ("anonymise_le", lambda p: _day(p.anonymised_at)),
    },
    EligibilityAssessment: {
        "pathway": ("parcours", lambda a: a.pathway_id),
        "submitted_at": ("soumise_le", lambda a: _day(a.submitted_at)),
        "submitted_by": ("soumise_par", lambda a: _by(a.submitted_by)),
        "decision": ("decision", lambda a: _shown(a, "decision")),
        "decided_at": ("decidee_le", lambda a: _day(a.decided_at)),
        "decided_by": ("decidee_par", lambda a: _by(a.decided_by)),
        "valid_until": ("valide_jusqu_au", lambda a: _date(a.valid_until)),
        "derogation_reason": ("derogation", lambda a: a.derogation_reason),
    },
    AssessedCriterion: {
        "criterion": ("critere", lambda c: c.criterion.label),
        "proof_kind": ("justificatif", lambda c: _shown(c, "proof_kind")),
        "proof_seen_on": ("justificatif_vu_le", lambda c: _date(c.proof_seen_on)),
        "proof_seen_by": ("justificatif_vu_par", lambda c: _by(c.proof_seen_by)),
    },
    Pathway: {
        "id": ("numero", lambda p: p.pk),
        "state": ("etat", lambda p: p.get_state_display()),
        "referent_adviser": ("conseiller_referent", lambda p: _by(p.referent_adviser)),
        "facilitation_organisation": ("structure_porteuse", lambda p: _name(p.facilitation_organisation)),
        "started_on": ("debut", lambda p: _date(p.started_on)),
        "exited_on": ("sortie", lambda p: _date(p.exited_on)),
        "closed_on": ("cloture", lambda p: _date(p.closed_on)),
        "reopened_on": ("rouvert_le", lambda p: _date(p.reopened_on)),
    },
    Referral: {
        "id": ("numero", lambda r: r.pk),
        "pathway": ("parcours", lambda r: r.pathway_id),
        "offer": ("offre", lambda r: r.offer.title),
        "state": ("etat", lambda r: r.get_state_display()),
        "sent_by": ("envoye_par", lambda r: _by(r.sent_by)),
        "motivation": ("motivation", lambda r: r.motivation),
        "created_at": ("cree_le", lambda r: _day(r.created_at)),
        "forwarded_at": ("transmis_a_l_employeur_le", lambda r: _day(r.forwarded_at)),
        "decided_at": ("decide_le", lambda r: _day(r.decided_at)),
        "decision_reason": ("motif_de_decision", lambda r: r.decision_reason),
    },
    Placement: {
        "id": ("numero", lambda p: p.pk),
        "pathway": ("parcours", lambda p: p.pathway_id),
        "referral": ("positionnement", lambda p: p.referral_id),
        "employer": ("employeur", lambda p: p.employer.name),
        "lot": ("lot", lambda p: str(p.lot)),
        "contract_type": ("type_de_contrat", lambda p: _shown(p, "contract_type")),
        "fulfilment_mode": ("modalite", lambda p: _shown(p, "fulfilment_mode")),
        "weekly_hours": ("heures_par_semaine", lambda p: str(p.weekly_hours)),
        "start_date": ("debut_prevu", lambda p: _date(p.start_date)),
        "planned_end_date": ("fin_prevue", lambda p: _date(p.planned_end_date)),
        "started_on": ("commence_le", lambda p: _date(p.started_on)),
        "ended_on": ("termine_le", lambda p: _date(p.ended_on)),
        "state": ("etat", lambda p: p.get_state_display()),
        "end_kind": ("type_de_fin", lambda p: _shown(p, "end_kind")),
        "end_reason": ("motif_de_fin", lambda p: p.end_reason),
    },
    HoursLine: {
        "id": ("numero", lambda h: h.pk),
        "placement": ("mise_en_poste", lambda h: h.placement_id),
        "month": ("mois", lambda h: h.month.strftime("%Y-%m")),
        "hours": ("heures", lambda h: str(h.hours)),
        "is_adjustment": ("regularisation", lambda h: h.is_adjustment),
        "state": ("etat", lambda h: h.get_state_display()),
        "declared_by": ("declarees_par", lambda h: _by(h.declared_by)),
        "declared_at": ("declarees_le", lambda h: _day(h.declared_at)),
        "validated_at": ("validees_le", lambda h: _day(h.validated_at)),
        "rejection_reason": ("motif_de_rejet", lambda h: h.rejection_reason),
        "locked_at": ("cloturees_le", lambda h: _day(h.locked_at)),
    },
    FollowUp: {
        "pathway": ("parcours", lambda f: f.pathway_id),
        "placement": ("mise_en_poste", lambda f: f.placement_id),
        "kind": ("type", lambda f: _shown(f, "kind")),
        "due_on": ("prevu_le", lambda f: _date(f.due_on)),
        "done_on": ("realise_le", lambda f: _date(f.done_on)),
        "recorded_by": ("par", lambda f: _by(f.recorded_by)),
        "note": ("note", lambda f: f.note),
    },
    Exit: {
        "pathway": ("parcours", lambda e: e.pathway_id),
        "exited_on": ("date", lambda e: _date(e.exited_on)),
        "situation": ("situation", lambda e: _shown(e, "situation")),
        "category": ("categorie", lambda e: _shown(e, "category")),
        "detail": ("precision", lambda e: e.detail),
        "recorded_by": ("enregistree_par", lambda e: _by(e.recorded_by)),
        "outcome_observed_on": ("situation_a_6_mois_constatee_le", lambda e: _date(e.outcome_observed_on)),
        "outcome_situation": ("situation_a_6_mois", lambda e: _shown(e, "outcome_situation")),
        "outcome_category": ("categorie_a_6_mois", lambda e: _shown(e, "outcome_category")),
        "outcome_detail": ("precision_a_6_mois", lambda e: e.outcome_detail),
        "outcome_recorded_by": ("situation_a_6_mois_enregistree_par", lambda e: _by(e.outcome_recorded_by)),
    },
}
# Fields that are not data about the person (bookkeeping, keys, copies of exported values), and why.
SUBJECT_ACCESS_TECHNICAL_FIELDS = {
    Participant: {
        "updated_at": "the row's bookkeeping; each change is in the history (journal), exported",
        "version": "how many times the file was edited, against lost updates; each edit is in the history, exported",
        "search_text": "search index computed from the names, exported",
        "identity_key": "duplicate-detection key computed from the names and birth date, exported",
        "homonym_confirmed": "the adviser's confirmation that a homonym is another person: about the other file",
        "current_state": "copy of the current pathway's state, exported with the pathways",
    },
    EligibilityAssessment: {
        "id": "internal key",
        "participant": "the person the document is about",
    },
    AssessedCriterion: {
        "id": "internal key",
        "assessment": "the assessment the criterion is listed under",
    },
    Pathway: {
        "participant": "the person the document is about",
        "updated_at": "the row's bookkeeping; each change is in the history (journal), exported",
    },
    Referral: {
        "participant_id": "copy of the pathway's participant (the person the document is about)",
        "updated_at": "the row's bookkeeping; each change is in the history (journal), exported",
    },
    Placement: {
        "participant_id": "copy of the pathway's participant (the person the document is about)",
        "created_at": "the row's bookkeeping; its creation is in the history (journal), exported",
    },
    HoursLine: {
        "lot": "copy of the placement's lot, exported with the placement",
    },
    FollowUp: {
        "id": "internal key",
        "created_at": "the row's bookkeeping; its recording is in the history (journal), exported",
    },
    Exit: {
        "id": "internal key",
        "created_at": "the row's bookkeeping; its recording is in the history (journal), exported",
    },
}


def _exported(obj) -> dict:
    return {key: value(obj) for key, value in SUBJECT_ACCESS_FIELDS[type(obj)].values()}


def _object_label(event) -> str:
    return f"{OBJECT_LABELS.get(event.object_type, event.object_type)} #{event.object_id}"


def subject_access_data(participant: Participant) -> dict:
    """Everything Parcours holds on one participant, in French section names (RGPD art. 15). Built after the
    export was authorised and journaled (parcours.services.data_protection.participant_subject_access)."""
    pathways = list(
        Pathway.objects.filter(participant=participant)
        .select_related("referent_adviser", "facilitation_organisation")
        .order_by("started_on", "pk")
    )
    assessments = list(
        EligibilityAssessment.objects.filter(participant=participant)
        .select_related("submitted_by", "decided_by")
        .order_by("submitted_at", "pk")
    )
    criteria = {}
    for row in (
        AssessedCriterion.objects.filter(assessment__participant=participant)
        .select_related("criterion", "proof_seen_by")
        .order_by("pk")
    ):
        criteria.setdefault(row.assessment_id, []).append(row)
    referrals = list(
        Referral.objects.filter(pathway__participant=participant)
        .select_related("offer__lot__contract__operation", "offer__lot__awardee", "sent_by")
        .order_by("created_at", "pk")
    )
    placements = list(
        Placement.objects.filter(pathway__participant=participant)
        .select_related("employer", "lot__contract")
        .order_by("start_date", "pk")
    )
    hours = list(
        HoursLine.objects.filter(placement__pathway__participant=participant)
        .select_related("declared_by")
        .order_by("month", "pk")
    )
    follow_ups = list(
        FollowUp.objects.filter(pathway__participant=participant)
        .select_related("recorded_by")
        .order_by(F("done_on").asc(nulls_last=True), F("due_on").asc(nulls_last=True), "pk")
    )
    exits = list(
        Exit.objects.filter(pathway__participant=participant)
        .select_related("recorded_by", "outcome_recorded_by")
        .order_by("exited_on", "pk")
    )
    events = list(
        JournalEvent.objects.filter(participant_id=participant.pk)
        .select_related("actor_user", "actor_organisation")
        .order_by("occurred_at", "pk")
    )
    accesses = list(
        ParticipantAccess.objects.filter(participant=participant)
        .select_related("user", "organisation")
        .order_by("accessed_at", "pk")
    )
    return {
        "document": {
            "titre": "Données personnelles détenues par Parcours (droit d'accès, article 15 du RGPD)",
            "produit_le": timezone.localtime().isoformat(timespec="seconds"),
            "responsable_de_traitement": participant.youth_agency.name,
        },
        "identite": _exported(participant),
        "eligibilite": [
            {
                **_exported(a),
                "criteres": [
                    {**_exported(c), "donnee_de_sante": c.criterion.is_health_data} for c in criteria.get(a.pk, [])
                ],
            }
            for a in assessments
        ],
        "parcours": [_exported(p) for p in pathways],
        "positionnements": [
            {
                **_exported(r),
                "lot": str(r.offer.lot),
                "operation": r.offer.lot.contract.operation.name,
                "employeur": r.offer.lot.awardee.name if r.offer.lot.awardee else "",
            }
            for r in referrals
        ],
        "mises_en_poste": [_exported(p) for p in placements],
        "heures": [_exported(h) for h in hours],
        "suivis": [_exported(f) for f in follow_ups],
        "sorties": [_exported(e) for e in exits],
        "historique": [
            {
                "date": _moment(e.occurred_at),
                "par": _person(e.actor_user),
                "organisation": e.actor_organisation.name if e.actor_organisation else "",
                "role": str(ROLE_LABELS.get(e.actor_role, e.actor_role)),
                "objet": _object_label(e),
                "action": action_label(e.object_type, e.action),
                "etat_avant": event_state_label(e.object_type, e.from_state),
                "etat_apres": event_state_label(e.object_type, e.to_state),
                "motif": e.reason,
            }
            for e in events
        ],
        "consultations": [
            {
                "date": _moment(a.accessed_at),
                "par": _person(a.user),
                "organisation": a.organisation.name if a.organisation else "",
                "role": str(ROLE_LABELS.get(a.role, a.role)),
                "canal": a.get_channel_display(),
                "objet": a.purpose_label,
            }
            for a in accesses
        ],
    }
