from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.models import FollowUp, Pathway
from parcours.notifications import publish_on_commit
from parcours.services.common import lock, require, require_choice, require_date
from roles.rows import insert_row, save_row
from workflows import text, work
from workflows.errors import DomainError
from workflows.journal import chain_tail_of, record_event
from workflows.states import PATHWAY_OPEN_STATES
from workflows.vocabulary import FollowUpKind


@transaction.atomic
def followup_record(*, actor, pathway, kind, done_on, note: str = "", planned_follow_up=None) -> FollowUp:
    """Record a follow-up contact, or complete a planned one. The note stays out of the journal."""
    pathway = lock(Pathway, pathway, actor=actor)
    require(actor, "followup.record", pathway, _("Vous ne pouvez pas enregistrer de suivi pour ce parcours."))
    if pathway.state not in PATHWAY_OPEN_STATES:
        raise DomainError("invalid_transition", _("Le parcours est clos : aucun suivi ne peut être ajouté."))
    require_choice(kind, FollowUpKind, "kind", _("Type de suivi"))
    require_date(done_on, "done_on", _("Date"))
    if done_on > timezone.localdate():
        raise DomainError("date_in_future", _("La date du suivi ne peut pas être dans le futur."), field="done_on")
    if done_on < pathway.started_on:
        raise DomainError(
            "invalid_input",
            _("La date du suivi ne peut pas précéder le début du parcours (%(started_on)s).")
            % {"started_on": format(pathway.started_on, "%d/%m/%Y")},
            field="done_on",
        )
    note = text.clean_text(note or "", field="note", label="Note", multiline=True)
    if len(note) > 1000:
        raise DomainError("invalid_input", _("Note : 1000 caractères au plus."), field="note")
    if planned_follow_up is not None:
        try:
            follow_up = pathway.follow_ups.select_for_update().get(
                pk=getattr(planned_follow_up, "pk", planned_follow_up), done_on__isnull=True
            )
        except (FollowUp.DoesNotExist, ValueError, TypeError):
            raise DomainError(
                "not_found", _("Suivi prévu introuvable ou déjà réalisé."), field="planned_follow_up"
            ) from None
        follow_up.kind, follow_up.done_on, follow_up.note, follow_up.recorded_by = kind, done_on, note, actor.user
        completed = save_row(follow_up, send_with_next=True)  # sent with the event's row
    else:
        completed = None
        if pathway.follow_ups.filter(kind=kind, done_on=done_on, note=note).exists():
            # Sent twice (a double click, the browser's back button, a retried request): the pathway's lock orders
            # them, the second finds the first.
            raise DomainError(
                "duplicate_follow_up",
                _(
                    "Ce suivi est déjà enregistré (%(kind)s du %(done_on)s, même note) : il a sans doute été envoyé "
                    "deux fois. Pour un second contact du même type ce jour-là, précisez-le dans la note."
                )
                % {"kind": FollowUpKind(kind).label, "done_on": format(done_on, "%d/%m/%Y")},
                field="note",
            )
        follow_up = insert_row(
            FollowUp(pathway=pathway, kind=kind, done_on=done_on, note=(note or "").strip(), recorded_by=actor.user)
        )
    event = record_event(
        actor=actor,
        object_type="pathway",
        object_id=pathway.pk,
        participant_id=pathway.participant_id,
        action="record_follow_up",
        from_state=pathway.state,
        to_state=pathway.state,
        inputs={"follow_up": follow_up.pk, "kind": kind, "done_on": done_on},
        tail=chain_tail_of(pathway),  # read with the locked pathway
        along=completed,
        lead=True,  # sent by the work layer's read of the pathway's open tasks
    )
    work.object_changed(obj=follow_up, actor=actor, event=event)
    publish_on_commit(event)
    return follow_up
