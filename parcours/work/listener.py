"""The work-layer listener: reacts to what the services report through workflows.work.

It runs inside the service's transaction, after the fsm transition and its journal event — whose row (with the
transition's update) may not be sent yet: its first read, that of the open tasks, sends it in the same round trip
(`roles.rows.Lead`), and it sends it (`send_unsent`) before writing anything else:
- a pathway is registered → an intake process starts (and again when a pathway is reopened to intake);
- a referral is created → a placement process starts;
- a placement is created by a hire → the placement process plans the follow-up timers;
- a placement's start date is corrected → its follow-up timers still armed move to the new planned days;
- any change of a pathway, a referral or a follow-up → the open tasks of that pathway whose waiting condition no
  longer holds are settled (done by the actor if they hold the task's role in its organisation), and the flow
  moves on, its gateways reading the new fsm state; a transition no condition tells apart (flows.may_settle)
  reads no task.
The listener never changes an fsm state; services do.
"""

from parcours.work import driver
from parcours.work.flows import HumanTask, IntakeFlow, PlacementFlow, may_settle, open_tasks_of_pathway
from roles.rows import send_unsent, unsent
from workflows.states import PathwayState

SETTLING_OBJECTS = {"pathway", "referral", "placement", "followup"}


def _pathway_id(obj):
    model = obj._meta.model_name
    if model == "pathway":
        return obj.pk
    return getattr(obj, "pathway_id", None)


def _referral_id(known):
    """The referral a change of `known` concerns (a referral, or its placement); None for a pathway's change."""
    model = known._meta.model_name if known is not None else None
    if model == "referral":
        return known.pk
    return getattr(known, "referral_id", None) if model == "placement" else None


def settle_pathway(pathway_id, *, actor, event, known=None):
    """Settle the open tasks of a pathway that no longer wait for anything, through the driver's set-based statements
    (parcours/work/driver.py runs every human task of the flows: tests/work/test_driver.py)."""
    outcome = f"{event.object_type}.{event.action}" if event is not None else ""
    locked = set()  # the processes of the open tasks, locked with their read (one round trip on PostgreSQL)
    # The event's own write, when not sent yet (workflows.journal.record_event's `lead`), goes first, in that round
    # trip: the read sees the new state.
    tasks = open_tasks_of_pathway(pathway_id, locked=locked, referral_id=_referral_id(known), leads=unsent(event))
    settled = [
        work_task
        for work_task in tasks
        # a node removed from the flow is left to an administrator
        if isinstance(work_task.task.flow_task, HumanTask) and not work_task.task.flow_task.is_open(work_task)
    ]
    if not settled:
        return 0
    return driver.settle(settled, actor=actor, event=event, outcome=outcome, known=known, locked=locked)


class WorkListener:
    """Subscribed to workflows.work from WorkflowsConfig.ready()."""

    def object_created(self, *, obj, actor, event):
        model = obj._meta.model_name
        if model in ("referral", "followup"):
            settle_pathway(obj.pathway_id, actor=actor, event=event)  # its read sends the event's write, if unsent
        send_unsent(event)  # before anything else is written
        if model == "pathway":
            driver.start(IntakeFlow, pathway=obj)
        elif model == "referral":
            driver.start(PlacementFlow, pathway=obj.pathway, referral=obj)
        elif model == "placement":
            self._contract_recorded(obj)

    def object_changed(self, *, obj, actor, event):
        if obj._meta.model_name in SETTLING_OBJECTS:
            pathway_id = _pathway_id(obj)
            if pathway_id is not None:
                settle_pathway(pathway_id, actor=actor, event=event)

    def transition_fired(self, *, obj, spec, actor, event, keep_lead=False):
        if spec.machine not in SETTLING_OBJECTS:
            return
        # A move between two states that every task's condition treats alike (a referral under review, then
        # approved) ends no task: no task is read.
        if may_settle(spec.machine, event.from_state, event.to_state):
            settle_pathway(_pathway_id(obj), actor=actor, event=event, known=obj)
        reopened = spec.machine == "pathway" and spec.name == "reopen" and obj.state == PathwayState.INTAKE
        if reopened or not keep_lead:  # before anything else is written; else the caller's next read carries it
            send_unsent(event)
        if reopened:
            driver.start(IntakeFlow, pathway=obj)
        elif spec.machine == "placement" and spec.name == "change_start_date":
            send_unsent(event)  # before this write, even when kept for the caller
            driver.follow_up_timers_moved(obj, PlacementFlow.contract)

    def _contract_recorded(self, placement):
        driver.contract_recorded(placement, PlacementFlow.contract)


listener = WorkListener()
