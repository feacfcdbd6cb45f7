"""Audit verification of the case data against the journal (the case half of `verify_journal`).

The journal alone proves its chains and checkpoints (workflows.journal). Only the case app knows which objects
must have a chain and what their state is: every participant and every stateful object (pathway, referral,
placement, hours line) has a chain, and its current state is the `to_state` of the last event that changed it. A
forged append that passes the keyed digests (someone holding the key) still disagrees with the object it claims
to have moved, and a deleted chain leaves its object without history. Reasons may be erased only with the
anonymisation of their participant, which is itself journaled.
"""

from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from parcours.models import HoursLine, Participant, Pathway, Placement, Referral
from workflows.journal import VerificationResult, verify
from workflows.models import JournalEvent

STATEFUL = {"pathway": Pathway, "referral": Referral, "placement": Placement, "hoursline": HoursLine}
ANONYMISE_ACTION = "anonymise"


def _chain(object_type):
    return JournalEvent.objects.filter(object_type=object_type, object_id=OuterRef("pk"))


def check_case_states(result: VerificationResult, *, limit=20) -> VerificationResult:
    """Every participant and stateful object has a chain, ending in the object's state (no journal walk needed:
    runs while the chains are verified)."""
    orphans = Participant.objects.filter(~Exists(_chain("participant"))).values_list("pk", flat=True)[:limit]
    for pk in orphans:
        result.problem(None, f"participant #{pk} : aucun historique (chaîne supprimée)")
    for object_type, model in STATEFUL.items():
        head = _chain(object_type).exclude(to_state="").order_by("-sequence").values("to_state")[:1]
        # One probe of the chain per object: "" stands for no chain (a state is never empty), so that a single
        # comparison catches both (an IS NULL test beside it made PostgreSQL run the subquery twice per row).
        mismatched = (
            model.objects.annotate(journal_state=Coalesce(Subquery(head), Value("")))
            .filter(~Q(state=F("journal_state")))
            .order_by()
            .values_list("pk", "state", "journal_state")[:limit]
        )
        for pk, state, journal_state in mismatched:
            if not journal_state:
                result.problem(None, f"{object_type} #{pk} : aucun historique (chaîne supprimée)")
            else:
                result.problem(
                    None,
                    f"{object_type} #{pk} : état « {state} » mais le journal finit sur « {journal_state} » "
                    "(événement ajouté, supprimé ou état modifié hors de l'application)",
                )
    return result


def check_erased_reasons(result: VerificationResult) -> VerificationResult:
    """Reasons erased only with their participant's anonymisation (the erased ones are found by the chain walk)."""
    if result.erased_reason_participants:
        anonymised = set(
            JournalEvent.objects.filter(
                object_type="participant",
                action=ANONYMISE_ACTION,
                object_id__in=result.erased_reason_participants,
            ).values_list("object_id", flat=True)
        )
        for participant_id in sorted(result.erased_reason_participants - anonymised, key=lambda p: p or 0):
            result.problem(None, f"participant #{participant_id} : motifs effacés sans anonymisation journalisée")
    return result


def verify_journal(documents=(), *, workers=1) -> VerificationResult:
    """Everything `manage.py verify_journal` checks: chains, reasons, checkpoints, triggers, case data."""
    return check_erased_reasons(verify(documents, workers=workers, alongside=check_case_states))
