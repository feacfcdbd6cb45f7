"""The work-layer listener: reacts to what the services report through workflows.work.

It runs inside the service's transaction, after the fsm transition and its journal event:
- a pathway is registered → an intake process starts (and again when a pathway is reopened to intake);
- a referral is created → a placement process starts;
- a placement is created by a hire → the placement process plans the follow-up timers;
- any change of a pathway, a referral or a follow-up → the open tasks of that pathway whose waiting condition no
  longer holds are settled (done by the actor if they hold the task's role in its organisation), and the flow
  moves on, its gateways reading the new fsm state.
The listener never changes an fsm state; services do.
"""

import logging

from viewflow.workflow.exceptions import FlowLockFailed

from parcours.work import driver
from parcours.work.flows import HumanTask, IntakeFlow, PlacementFlow, open_tasks_of_pathway
from parcours.work.models import OPEN_TASK_STATUSES, WorkTask
from workflows.errors import WORK_BUSY
from workflows.states import PathwayState

logger = logging.getLogger(__name__)

SETTLING_OBJECTS = {"pathway", "referral", "placement", "followup"}
BUSY = WORK_BUSY


def acted_in_role(actor, work_task) -> bool:
    """Whether the actor holds the task's role in the task's organisation (else the task was closed, not done)."""
    return (
        actor is not None
        and not actor.is_system
        and actor.organisation_id == work_task.organisation_id
        and actor.role == work_task.role
    )


def _pathway_id(obj):
    model = obj._meta.model_name
    if model == "pathway":
        return obj.pk
    return getattr(obj, "pathway_id", None)


def close(work_task, *, actor, event, outcome):
    """Settle one open task under its process lock and let the flow continue. Returns True if it was open."""
    task = work_task.task
    try:
        with task.activation() as activation:
            if activation.task.status not in OPEN_TASK_STATUSES:
                return False
            by = actor.user if acted_in_role(actor, work_task) else None
            WorkTask.objects.filter(pk=work_task.pk).update(outcome=outcome[:50], done_by=by, closing_event=event)
            activation.settle(user=by)
            activation.activate_next()
            return True
    except FlowLockFailed:
        raise BUSY from None


def settle_pathway(pathway_id, *, actor, event):
    """Settle the open tasks of a pathway that no longer wait for anything: through the driver's set-based
    statements, or viewflow's activations for a chain the driver does not run (a follow-up reaching its join)."""
    outcome = f"{event.object_type}.{event.action}" if event is not None else ""
    driven, activated = [], []
    for work_task in open_tasks_of_pathway(pathway_id):
        node = work_task.task.flow_task
        if not isinstance(node, HumanTask):  # a node removed from the flow: leave it to an administrator
            continue
        if node.is_open(work_task):
            continue
        (driven if driver.supports(node) else activated).append(work_task)
    closed = driver.settle(driven, actor=actor, event=event, outcome=outcome) if driven else 0
    for work_task in activated:
        closed += close(work_task, actor=actor, event=event, outcome=outcome)
    return closed


class WorkListener:
    """Subscribed to workflows.work from WorkflowsConfig.ready()."""

    def object_created(self, *, obj, actor, event):
        model = obj._meta.model_name
        if model == "pathway":
            driver.start(IntakeFlow, pathway=obj)
        elif model == "referral":
            settle_pathway(obj.pathway_id, actor=actor, event=event)
            driver.start(PlacementFlow, pathway=obj.pathway, referral=obj)
        elif model == "placement":
            self._contract_recorded(obj)
        elif model == "followup":
            settle_pathway(obj.pathway_id, actor=actor, event=event)

    def object_changed(self, *, obj, actor, event):
        if obj._meta.model_name in SETTLING_OBJECTS:
            pathway_id = _pathway_id(obj)
            if pathway_id is not None:
                settle_pathway(pathway_id, actor=actor, event=event)

    def transition_fired(self, *, obj, spec, actor, event):
        if spec.machine not in SETTLING_OBJECTS:
            return
        settle_pathway(_pathway_id(obj), actor=actor, event=event)
        if spec.machine == "pathway" and spec.name == "reopen" and obj.state == PathwayState.INTAKE:
            driver.start(IntakeFlow, pathway=obj)

    def _contract_recorded(self, placement):
        driver.contract_recorded(placement, PlacementFlow.contract)


listener = WorkListener()
