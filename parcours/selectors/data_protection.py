"""Reads for data protection: the subject-access document of one participant, and the access log as seen by the
Mission Locale following a file and by an organisation's data-protection officer (policy-scoped)."""

from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

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
from parcours.selectors.journal import ROLE_LABELS, action_label, event_state_label, person_name
from parcours.text import Folded, fold, pseudonym_number
from roles.policy import allows, scope_queryset
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


# --- The subject-access document --------------------------------------------------------------------------------
def subject_access_data(participant: Participant) -> dict:
    """Everything Parcours holds on one participant, in French section names (RGPD art. 15). Built after the
    export was authorised and journaled (parcours.services.data_protection.participant_subject_access)."""
    pathways = list(Pathway.objects.filter(participant=participant).order_by("started_on", "pk"))
    assessments = list(
        EligibilityAssessment.objects.filter(participant=participant)
        .select_related("submitted_by", "decided_by")
        .order_by("submitted_at", "pk")
    )
    criteria = {}
    for row in AssessedCriterion.objects.filter(assessment__participant=participant).select_related("criterion"):
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
    hours = list(HoursLine.objects.filter(placement__pathway__participant=participant).order_by("month", "pk"))
    follow_ups = list(
        FollowUp.objects.filter(pathway__participant=participant)
        .select_related("recorded_by")
        .order_by(F("done_on").asc(nulls_last=True), F("due_on").asc(nulls_last=True), "pk")
    )
    exits = list(Exit.objects.filter(pathway__participant=participant).order_by("exited_on", "pk"))
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
        "identite": {
            "prenom": participant.first_name,
            "nom": participant.last_name,
            "date_de_naissance": _date(participant.birth_date),
            "courriel": participant.email,
            "telephone": participant.phone,
            "code_postal": participant.postcode,
            "commune": participant.commune,
            "reside_en_qpv": participant.is_qpv_resident,
            "niveau_de_qualification": participant.get_qualification_level_display(),
            "dispositif": participant.get_programme_display(),
            "identifiant_imilo": participant.imilo_reference,
            "mission_locale": participant.youth_agency.name,
            "conseiller_referent": _person(participant.referent_adviser),
            "inscrit_le": _date(timezone.localdate(participant.created_at)),
            "notice_d_information_remise_le": _date(participant.notice_given_on),
        },
        "eligibilite": [
            {
                "soumise_le": _date(timezone.localdate(a.submitted_at)),
                "decision": a.get_decision_display(),
                "decidee_le": _date(timezone.localdate(a.decided_at)) if a.decided_at else None,
                "valide_jusqu_au": _date(a.valid_until),
                "derogation": a.derogation_reason,
                "criteres": [
                    {
                        "critere": c.criterion.label,
                        "donnee_de_sante": c.criterion.is_health_data,
                        "justificatif": c.get_proof_kind_display() if c.proof_kind else "",
                        "justificatif_vu_le": _date(c.proof_seen_on),
                    }
                    for c in criteria.get(a.pk, [])
                ],
            }
            for a in assessments
        ],
        "parcours": [
            {
                "numero": p.pk,
                "etat": p.get_state_display(),
                "debut": _date(p.started_on),
                "sortie": _date(p.exited_on),
                "cloture": _date(p.closed_on),
            }
            for p in pathways
        ],
        "positionnements": [
            {
                "numero": r.pk,
                "offre": r.offer.title,
                "lot": str(r.offer.lot),
                "operation": r.offer.lot.contract.operation.name,
                "employeur": r.offer.lot.awardee.name if r.offer.lot.awardee else "",
                "etat": r.get_state_display(),
                "motivation": r.motivation,
                "motif_de_decision": r.decision_reason,
                "cree_le": _date(timezone.localdate(r.created_at)),
            }
            for r in referrals
        ],
        "mises_en_poste": [
            {
                "numero": p.pk,
                "employeur": p.employer.name,
                "lot": str(p.lot),
                "type_de_contrat": p.get_contract_type_display(),
                "modalite": p.get_fulfilment_mode_display(),
                "heures_par_semaine": p.weekly_hours,
                "debut_prevu": _date(p.start_date),
                "fin_prevue": _date(p.planned_end_date),
                "commence_le": _date(p.started_on),
                "termine_le": _date(p.ended_on),
                "etat": p.get_state_display(),
                "motif_de_fin": p.end_reason,
            }
            for p in placements
        ],
        "heures": [
            {
                "mise_en_poste": h.placement_id,
                "mois": h.month.strftime("%Y-%m"),
                "heures": str(h.hours),
                "regularisation": h.is_adjustment,
                "etat": h.get_state_display(),
            }
            for h in hours
        ],
        "suivis": [
            {
                "type": f.get_kind_display(),
                "prevu_le": _date(f.due_on),
                "realise_le": _date(f.done_on),
                "par": _person(f.recorded_by) if f.recorded_by else "",
                "note": f.note,
            }
            for f in follow_ups
        ],
        "sorties": [
            {"date": _date(e.exited_on), "categorie": e.get_category_display(), "precision": e.detail} for e in exits
        ],
        "historique": [
            {
                "date": timezone.localtime(e.occurred_at).isoformat(timespec="seconds"),
                "par": _person(e.actor_user),
                "organisation": e.actor_organisation.name if e.actor_organisation else "",
                "role": str(ROLE_LABELS.get(e.actor_role, e.actor_role)),
                "objet": f"{e.object_type} #{e.object_id}",
                "action": action_label(e.object_type, e.action),
                "etat_avant": event_state_label(e.object_type, e.from_state),
                "etat_apres": event_state_label(e.object_type, e.to_state),
                "motif": e.reason,
            }
            for e in events
        ],
        "consultations": [
            {
                "date": timezone.localtime(a.accessed_at).isoformat(timespec="seconds"),
                "par": _person(a.user),
                "organisation": a.organisation.name if a.organisation else "",
                "role": str(ROLE_LABELS.get(a.role, a.role)),
                "canal": a.get_channel_display(),
                "objet": a.purpose_label,
            }
            for a in accesses
        ],
    }
