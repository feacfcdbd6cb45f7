"""The work layer: viewflow flows on top of the fsm declarations — who must act next, and when.

The fsm states (workflows/transitions.py) stay the single source of truth. A flow never changes a state: its human
tasks are completed by the listener (parcours/work/listener.py) when a service fires the transition the task was
waiting for, and its gateways read the resulting state to choose the next step. Timers only call services
(a referral expires through parcours.services.referrals.referral_expire) or notify.

Two flows:
- IntakeFlow (one process per pathway episode): the adviser builds the eligibility file, the facilitation
  organisation decides.
- PlacementFlow (one process per referral): the facilitator reviews, the employer answers then confirms the hire,
  the adviser follows up at +1, +3 and +6 months and records the exit. Each waiting step gets a reminder and an
  expiry timer (per facilitation organisation); an expired referral comes back to the adviser.
"""

import datetime
import functools
import random
import time
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.base import Edge
from viewflow.workflow.context import Context
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.nodes import Timer, View
from viewflow.workflow.nodes.boundary import TimerBoundary, TimerBoundaryActivation
from viewflow.workflow.nodes.timer import TimerActivation
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.signals import task_finished
from viewflow.workflow.status import STATUS

from parcours.dates import add_months
from parcours.models import FollowUp, Pathway, Placement, Referral
from parcours.notifications import publish_on_commit
from parcours.services.referrals import referral_expire
from parcours.work.models import OPEN_TASK_STATUSES, TaskKind, WorkProcess, WorkTask
from roles.actor import Actor
from roles.enums import Role
from roles.models import Membership
from roles.statements import Compiled, one_round_trip
from workflows.journal import record_event
from workflows.models import JournalEvent
from workflows.states import PATHWAY_OPEN_STATES, REFERRAL_OPEN_STATES, PathwayState, PlacementState, ReferralState
from workflows.transitions import REFERRAL

# Due moments of tasks without a timer (a task past its due moment is "en retard" and listed first).
INTAKE_SUBMIT_DAYS = 14
ELIGIBILITY_REVIEW_DAYS = 7
REBOUND_DAYS = 7
EXIT_RECORD_DAYS = 30
FOLLOW_UP_GRACE_DAYS = 7

WAITS = {
    TaskKind.SUBMIT_ELIGIBILITY: "le parcours est « Accueil » : jusqu'à « Soumettre l'éligibilité »",
    TaskKind.REVIEW_ELIGIBILITY: "l'éligibilité est à valider : jusqu'à « Valider » ou « Refuser l'éligibilité »",
    TaskKind.REVIEW_REFERRAL: (
        "le positionnement est envoyé, en examen ou validé : jusqu'à « Transmettre à l'employeur » "
        "ou « Ne pas valider »"
    ),
    TaskKind.ANSWER_REFERRAL: "le positionnement est transmis : jusqu'à « Retenir » ou « Refuser la candidature »",
    TaskKind.CONFIRM_HIRE: "la candidature est retenue : jusqu'à « Confirmer l'embauche » (contrat) ou « Refuser »",
    TaskKind.FOLLOW_UP: "le suivi prévu n'est pas enregistré, le contrat pas annulé, le parcours ouvert",
    TaskKind.RECORD_EXIT: "le parcours est « En poste » ou « En suivi » : jusqu'à « Enregistrer la sortie »",
    TaskKind.REFERRAL_EXPIRED: "jusqu'à un nouveau positionnement, la clôture du parcours ou le classement",
}


# --- The process lock --------------------------------------------------------------------------------------------
class ProcessRowLock:
    """viewflow's flow lock: the process row, `SELECT … FOR UPDATE SKIP LOCKED` retried briefly, then FlowLockFailed
    (the service answers "busy", 409). viewflow's SelectForUpdateLock catches the lock error inside its own savepoint
    without rolling it back: on PostgreSQL the transaction is then aborted and the request ends in a 500 (found by
    `make soak`). SKIP LOCKED never raises, so no savepoint per attempt; the waits are short because the caller
    already holds its fsm row lock. The driver (parcours/work/driver.py) locks the same rows the same way."""

    @contextmanager
    def __call__(self, flow_class, process_pk):
        with transaction.atomic():
            if not lock_processes([process_pk]):
                raise FlowLockFailed(f"Lock failed for {flow_class.__name__} #{process_pk}")
            yield


_lock_one_process = Compiled(
    lambda pk: WorkProcess.objects.filter(pk=pk).select_for_update(skip_locked=True).values_list("pk").order_by()
)


def lock_processes(pks, attempts=6, first_wait=0.01) -> bool:
    """Lock these process rows; False when one stays held by another transaction (a timer firing, a task page)
    after a few short waits."""
    wanted = set(pks)
    for attempt in range(attempts):
        if len(wanted) == 1:  # a transition's usual case: its compiled, prepared statement
            wanted -= {pk for (pk,) in _lock_one_process(next(iter(wanted)))}
        else:
            rows = WorkProcess.objects.filter(pk__in=wanted).order_by("pk").select_for_update(skip_locked=True)
            wanted -= set(rows.values_list("pk", flat=True))
        if not wanted:
            return True
        if attempt < attempts - 1:
            time.sleep(first_wait * 2**attempt * (1 + random.random()))
    return False


process_row_lock = ProcessRowLock()


# --- Reading the subjects (always from the database: the fsm row is the truth) --------------------------------
def _pathway_values(process, *fields):
    return Pathway.objects.filter(pk=process.pathway_id).values_list(*fields).get()


def _referral_values(process, *fields):
    return Referral.objects.filter(pk=process.referral_id).values_list(*fields).get()


def pathway_state(process):
    return _pathway_values(process, "state")[0]


def referral_state(process):
    return _referral_values(process, "state")[0]


def _settled(process, key, read):
    """A subject value that does not change while a process moves on (organisations, delays), read once per process
    instance: the activations chained in one transaction share it (viewflow hands the same process on), so a task and
    its two timers read the delays once, not three times. States are never read this way."""
    values = process.__dict__.setdefault("_parcours_settled", {})
    if key not in values:
        values[key] = read()
    return values[key]


def youth_agency(process):
    """la Mission Locale qui suit le ou la jeune"""
    return _settled(process, "youth_agency", lambda: _pathway_values(process, "participant__youth_agency_id")[0])


def pathway_facilitation(process):
    """la structure porteuse à qui le dossier d'éligibilité est transmis"""
    return _settled(
        process, "pathway_facilitation", lambda: _pathway_values(process, "facilitation_organisation_id")[0]
    )


def lot_facilitation(process):
    """la structure porteuse du lot de l'offre"""
    return _lot_values(process)[0]


def lot_awardee(process):
    """l'employeur attributaire du lot, à qui le positionnement est transmis"""
    return _lot_values(process)[1]


def referral_delays(process):
    """(reminder days, expiry days) of the facilitation organisation running the referral's lot."""
    return _lot_values(process)[2:]


def _lot_values(process):
    """(facilitation organisation, awardee, reminder days, expiry days) of the referral's lot, in one statement."""
    facilitation = "offer__lot__contract__operation__facilitation_organisation"
    return _settled(
        process,
        "lot",
        lambda: _referral_values(
            process,
            f"{facilitation}_id",
            "offer__lot__awardee_id",
            f"{facilitation}__referral_reminder_days",
            f"{facilitation}__referral_expiry_days",
        ),
    )


def _cached(obj, *names):
    """The related object at the end of `names` when every step is already loaded on `obj` (select_related, or the
    object a service created it with), else None: no statement."""
    for name in names:
        if obj is None:
            return None
        obj = obj._state.fields_cache.get(name)
    return obj


def remember_subject(process, pathway, referral=None):
    """Seed the process's settled values with what rows the service already holds carry (their related rows loaded
    with them): the organisations and delays are then not read again."""
    values = process.__dict__.setdefault("_parcours_settled", {})
    values.setdefault("pathway_facilitation", pathway.facilitation_organisation_id)
    participant = _cached(pathway, "participant")
    if participant is not None:
        values.setdefault("youth_agency", participant.youth_agency_id)
    operation = _cached(referral, "offer", "lot", "contract", "operation")
    if operation is not None and "lot" not in values:
        facilitation = _cached(operation, "facilitation_organisation")
        if operation.facilitation_organisation_id is None or facilitation is not None:
            values["lot"] = (
                operation.facilitation_organisation_id,
                referral.offer.lot.awardee_id,
                facilitation.referral_reminder_days if facilitation else None,
                facilitation.referral_expiry_days if facilitation else None,
            )


def start_of_day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def follow_up_due_on(process, months):
    """The day of the +`months` follow-up: the same rule as referral_hire (months after the contract start)."""
    values = process.__dict__.setdefault("_parcours_settled", {})
    start = values.get("contract_start")
    if start is None:  # not kept while there is no placement yet: the hire may record it later in the chain
        start = Placement.objects.filter(referral_id=process.referral_id).values_list("start_date", flat=True).first()
        values["contract_start"] = start
    return None if start is None else add_months(start, months)


def planned_follow_up(process, months):
    """The FollowUp row planned by referral_hire at +`months` months after the contract start: found by its rank
    among the placement's (FollowUp.planned_rank), not by a day recomputed from the start, which a row written
    before its contract's start was corrected may not hold."""
    rank = FollowUp.planned_rank(months)
    rows = FollowUp.objects.filter(placement__referral_id=process.referral_id).order_by("pk")[rank : rank + 1]
    return next(iter(rows), None)


# --- Nodes -----------------------------------------------------------------------------------------------------
class HumanTaskActivation(ViewActivation):
    """A human task: offered to one role in one organisation, settled by the listener, never by its own view."""

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        activation = super().create(flow_task, prev_activation, token, data=data, seed=seed)
        work_task = flow_task.open_work_task(activation)
        flow_task.give_to_referent(activation, work_task)
        return activation

    @Activation.status.transition(source=[STATUS.NEW, STATUS.ASSIGNED], target=STATUS.DONE)
    def settle(self, user=None):
        """The subject left the states this task waits in: the task is over (done by `user`, if a member)."""
        moment = timezone.now()
        if user is not None and self.task.owner_id != user.pk:
            self.task.owner = user
            self.task.assigned = moment
        self.task.started = self.task.started or moment
        self.task.finished = moment
        self.task.save()
        task_finished.send(sender=self.flow_class, process=self.process, task=self.task)


class HumanTask(View):
    """A task for people: `kind` (its label and actions), the role and organisation it is offered to, and
    `open_while(work_task) -> bool`, the condition on the fsm states under which the task is still waiting."""

    activation_class = HumanTaskActivation

    def __init__(self, kind, *, role, organisation, open_while, due=None, extra=None):
        super().__init__(view=None)
        self.kind = TaskKind(kind)
        self.waits = WAITS[self.kind]  # what the task waits for, in French (documentation and diagram table)
        self.role = Role(role)
        self._organisation = organisation
        self._open_while = open_while
        self._due = due
        self._extra = extra
        self.task_title = self.kind.label

    def is_open(self, work_task) -> bool:
        return self._open_while(work_task)

    def give_to_referent(self, activation, work_task):
        """A young person's task goes straight to the inbox of their pathway's referent adviser, while that person
        is an active adviser of the organisation the task is offered to; otherwise it waits in the team's queue."""
        if self.role != Role.ADVISER:
            return
        referent_id, participant_id = (
            Pathway.objects.filter(pk=work_task.pathway_id).values_list("referent_adviser_id", "participant_id").get()
        )
        membership = (
            Membership.objects.filter(
                user_id=referent_id, organisation_id=work_task.organisation_id, role=Role.ADVISER, is_active=True
            )
            .select_related("user")
            .first()
        )
        if membership is None:
            return
        activation.task.assigned = timezone.now()
        activation.assign(membership.user)
        work_task.status, work_task.owner_id = activation.task.status, referent_id
        event = record_event(
            actor=Actor.system(),
            object_type="task",
            object_id=work_task.pk,
            participant_id=participant_id,
            action="assign",
            from_state="new",
            to_state=str(activation.task.status).lower(),
            inputs={"kind": self.kind.value, "to": referent_id, "rule": "referent"},
        )
        publish_on_commit(event)

    def open_work_task(self, activation):
        process = activation.process
        organisation_id = self._organisation(process)
        if organisation_id is None:  # pragma: no cover - flows only open tasks for known organisations
            raise ValueError(f"{self.name}: no organisation to offer the task to")
        fields = {"due_at": self._due(activation) if self._due else None}
        if self._extra:
            fields.update(self._extra(activation))
        return WorkTask.objects.create(
            task=activation.task,
            status=activation.task.status,
            owner_id=activation.task.owner_id,
            kind=self.kind,
            role=self.role,
            organisation_id=organisation_id,
            pathway_id=process.pathway_id,
            referral_id=process.referral_id,
            **fields,
        )


def _journal_timer(activation):
    """Every timer firing leaves one journal event, by the system, on the timer's own chain."""
    process = activation.process
    participant_id = Pathway.objects.filter(pk=process.pathway_id).values_list("participant_id", flat=True).get()
    host = activation.task.previous.filter(flow_task_type="HUMAN").values_list("pk", flat=True).first()
    record_event(
        actor=Actor.system(),
        object_type="timer",
        object_id=activation.task.pk,
        participant_id=participant_id,
        action=activation.flow_task.journal_action,
        inputs={
            "scheduled": activation.task.scheduled,
            "referral": process.referral_id,
            "task": host,
            "node": activation.flow_task.name,
        },
    )


class _FiringMixin:
    """Fire, journal, and continue; a failure downstream rolls the whole firing back (retried next sweep)."""

    def _fire(self):
        self.complete()
        _journal_timer(self)
        with Context(propagate_exception=True):
            self.activate_next()


def _still_due(activation):
    """A sweep reads the due timers, then fires each under its process lock, the row read again: one moved later in
    between (a contract's start corrected: driver.follow_up_timers_moved) waits for its new moment."""
    scheduled = activation.task.scheduled
    return scheduled is None or scheduled <= timezone.now()


class WorkTimerActivation(_FiringMixin, TimerActivation):
    @Activation.status.transition(source=STATUS.SCHEDULED, target=STATUS.STARTED, conditions=[_still_due])
    def start(self):
        super().start.original()

    @Activation.status.transition(source=STATUS.STARTED)
    def execute(self):
        self._fire()


class WorkTimerBoundaryActivation(_FiringMixin, TimerBoundaryActivation):
    @Activation.status.transition(source=STATUS.STARTED)
    def execute(self):
        if self.flow_task._interrupting:
            self.cancel_host_tasks()
        self._fire()


class WorkTimer(Timer):
    """viewflow's database-backed Timer, journaled and all-or-nothing."""

    activation_class = WorkTimerActivation

    def __init__(self, delay, *, journal_action, title, **kwargs):
        super().__init__(delay, **kwargs)
        self.journal_action = journal_action
        self.task_title = title


class WorkTimerBoundary(TimerBoundary):
    """A timer on the border of a human task (non-interrupting here: the fsm decides what happens)."""

    activation_class = WorkTimerBoundaryActivation

    def __init__(self, attached_to, delay, *, journal_action, title, **kwargs):
        super().__init__(attached_to, delay, interrupting=False, **kwargs)
        self.journal_action = journal_action
        self.task_title = title


class StateSwitch(flow.Switch):
    """An exclusive gateway reading the fsm state, with French edge labels for the diagram."""

    def __init__(self, read_state, **kwargs):
        super().__init__(**kwargs)
        self.read_state = read_state
        self._labels = []
        self._routes = []  # (node, states), the default last with states None: what the work-layer driver reads

    def Case(self, node, states, label):  # noqa: N802 - viewflow's fluent API
        states = frozenset(states)
        self._labels.append(label)
        self._routes.append((node, states))
        return super().Case(node, lambda activation: self.read_state(activation.process) in states)

    def Default(self, node, label="autre"):  # noqa: N802
        self._labels.append(label)
        self._routes.append((node, None))
        return super().Default(node)

    def _resolve(self, instance):
        super()._resolve(instance)
        self._routes = [(this.resolve(instance, node), states) for node, states in self._routes]

    def route(self, state):
        """The node this gateway leads to when its subject is in `state` (the same rule as its viewflow branches)."""
        for node, states in self._routes:
            if states is None or state in states:
                return node
        raise ValueError(
            f"{self.name}: no branch for state {state!r}"
        )  # pragma: no cover - every switch has a default

    def _outgoing(self):
        for (next_node, cond), label in zip(self._activate_next, self._labels, strict=True):
            yield Edge(src=self, dst=next_node, edge_class="cond_true" if cond else "default", label=label)


class Gate(flow.If):
    """An If gateway with French labels."""

    def __init__(self, cond, *, yes, no, **kwargs):
        super().__init__(cond, **kwargs)
        self._yes, self._no = yes, no

    def _outgoing(self):
        yield Edge(src=self, dst=self._on_true, edge_class="cond_true", label=self._yes)
        yield Edge(src=self, dst=self._on_false, edge_class="cond_false", label=self._no)


# --- Conditions of the human tasks (on fresh rows selected by the listener) -----------------------------------
# Each says which fsm states it reads (`reads`: machine → the states in which it may hold), so that a transition
# that moves between two states every condition treats alike is known to settle nothing (`may_settle`).
def _reading(condition, **reads):
    condition.reads = {machine: frozenset(states) for machine, states in reads.items()}
    return condition


def _pathway_in(*states):
    return _reading(lambda wt: wt.pathway.state in states, pathway=states)


def _referral_in(*states):
    return _reading(lambda wt: wt.referral.state in states, referral=states)


def _follow_up_pending(wt):
    follow_up = wt.follow_up
    return (
        follow_up is not None
        and follow_up.done_on is None
        and (follow_up.placement is None or follow_up.placement.state != PlacementState.CANCELLED)
        and wt.pathway.state in PATHWAY_OPEN_STATES
    )


def _rebound_pending(wt):
    """Until the adviser refers the young person again, closes the pathway, or files the task."""
    if wt.pathway.state not in PATHWAY_OPEN_STATES:
        return False
    return not Referral.objects.filter(pathway_id=wt.pathway_id, pk__gt=wt.referral_id).exists()


# Besides these states, a follow-up's task reads the follow-up (recorded: object_changed) and a rebound the referrals
# created since (object_created): those changes settle through the listener whatever the states.
_reading(
    _follow_up_pending,
    pathway=PATHWAY_OPEN_STATES,
    placement=[state for state in PlacementState if state != PlacementState.CANCELLED],
)
_reading(_rebound_pending, pathway=PATHWAY_OPEN_STATES)


# --- Due moments -------------------------------------------------------------------------------------------------
def _in_days(days):
    return lambda activation: timezone.now() + datetime.timedelta(days=days)


def _reminder_due(activation):
    """délai de relance de la structure porteuse (7 jours par défaut)"""
    reminder_days, _ = referral_delays(activation.process)
    return timezone.now() + datetime.timedelta(days=reminder_days)


def _expiry_due(activation):
    """délai d'expiration de la structure porteuse (30 jours par défaut)"""
    _, expiry_days = referral_delays(activation.process)
    return timezone.now() + datetime.timedelta(days=expiry_days)


def _follow_up_moment(months):
    """The timer of the +`months` follow-up fires at the start of its planned day."""

    def moment(activation):
        """le jour prévu du suivi (début du contrat + N mois)"""
        # Armed when the placement is created, before referral_hire writes the planned FollowUp rows.
        due_on = follow_up_due_on(activation.process, months)
        return timezone.now() if due_on is None else start_of_day(due_on)

    return moment


def _follow_up_grace(follow_up):
    if follow_up is None:
        return timezone.now() + datetime.timedelta(days=FOLLOW_UP_GRACE_DAYS)
    return start_of_day(follow_up.due_on + datetime.timedelta(days=FOLLOW_UP_GRACE_DAYS + 1))


def _follow_up_extra(months):
    def extra(activation):
        follow_up = planned_follow_up(activation.process, months)
        return {"follow_up": follow_up, "due_at": _follow_up_grace(follow_up)}

    return extra


def _follow_up_still_pending(months):
    def cond(activation):
        follow_up = planned_follow_up(activation.process, months)
        return (
            follow_up is not None
            and follow_up.done_on is None
            and pathway_state(activation.process) in PATHWAY_OPEN_STATES
        )

    return cond


# --- Actions of function nodes -------------------------------------------------------------------------------
def send_reminder(activation):
    """Reminder: notify the organisation the task is offered to (the firing itself is journaled)."""
    timer_task = activation.task.previous.get()
    work_task = WorkTask.objects.filter(task__leading=timer_task).select_related("task").first()
    if work_task is None or work_task.task.status not in OPEN_TASK_STATUSES:
        return
    event = JournalEvent.objects.filter(object_type="timer", object_id=timer_task.pk).order_by("-sequence").first()
    if event is not None:
        publish_on_commit(event)


def expire_referral(activation):
    """Expiry: the referral expires through the service, as the system; the listener then routes the flow."""
    referral_id = activation.process.referral_id
    state = Referral.objects.filter(pk=referral_id).values_list("state", flat=True).get()
    if state not in REFERRAL["expire"].sources:
        return  # answered meanwhile: nothing to expire
    referral_expire(referral=referral_id, actor=Actor.system())


def start_intake(activation, pathway):
    activation.process.pathway_id = pathway.pk


def start_placement(activation, referral):
    activation.process.pathway_id = referral.pathway_id
    activation.process.referral = referral


def contract_recorded(activation, placement=None):
    """The hire created the placement: the follow-up timers can be computed from its start date."""
    return placement


# --- Flows -------------------------------------------------------------------------------------------------------
REFERRAL_STEPS_OPEN = {
    "review": (ReferralState.SENT, ReferralState.UNDER_REVIEW, ReferralState.APPROVED),
    "answer": (ReferralState.FORWARDED,),
    "confirm_hire": (ReferralState.ACCEPTED,),
}


class IntakeFlow(flow.Flow):
    """Accueil et éligibilité

    Du premier accueil par la Mission Locale à la décision d'éligibilité de la structure porteuse.
    """

    process_class = WorkProcess
    lock_impl = process_row_lock

    start = flow.StartHandle(start_intake).Annotation(title="Jeune inscrit·e").Next(this.submit)
    submit = HumanTask(
        TaskKind.SUBMIT_ELIGIBILITY,
        role=Role.ADVISER,
        organisation=youth_agency,
        open_while=_pathway_in(PathwayState.INTAKE),
        due=_in_days(INTAKE_SUBMIT_DAYS),
    ).Next(this.after_submit)
    after_submit = (
        StateSwitch(pathway_state)
        .Case(this.review, [PathwayState.ELIGIBILITY_PENDING], "transmis")
        .Default(this.closed, "clos")
        .Annotation(title="Dossier transmis ?")
    )
    review = HumanTask(
        TaskKind.REVIEW_ELIGIBILITY,
        role=Role.FACILITATOR,
        organisation=pathway_facilitation,
        open_while=_pathway_in(PathwayState.ELIGIBILITY_PENDING),
        due=_in_days(ELIGIBILITY_REVIEW_DAYS),
    ).Next(this.after_review)
    after_review = (
        StateSwitch(pathway_state)
        .Case(this.eligible, [PathwayState.ELIGIBLE], "éligible")
        .Case(this.ineligible, [PathwayState.INELIGIBLE], "non éligible")
        .Default(this.closed_in_review, "clos")
        .Annotation(title="Décision")
    )
    eligible = flow.End().Annotation(title="Éligible")
    ineligible = flow.End().Annotation(title="Non éligible")
    closed = flow.End().Annotation(title="Parcours clos")
    closed_in_review = flow.End().Annotation(title="Parcours clos")


class PlacementFlow(flow.Flow):
    """Positionnement et mise en poste

    Du positionnement par le conseiller à la sortie : examen par la structure porteuse, réponse puis embauche par
    l'employeur, points de suivi à +1, +3 et +6 mois, sortie. Chaque étape en attente est relancée puis expire
    selon les délais de la structure porteuse ; un positionnement expiré revient au conseiller.
    """

    process_class = WorkProcess
    lock_impl = process_row_lock

    start = flow.StartHandle(start_placement).Annotation(title="Positionnement envoyé").Next(this.review)

    # Facilitator: review the referral, approve and forward it to the employer (or decline it).
    review = HumanTask(
        TaskKind.REVIEW_REFERRAL,
        role=Role.FACILITATOR,
        organisation=lot_facilitation,
        open_while=_referral_in(*REFERRAL_STEPS_OPEN["review"]),
        due=_reminder_due,
    ).Next(this.after_review)
    review_reminder = WorkTimerBoundary(this.review, _reminder_due, journal_action="remind", title="Relance").Next(
        this.review_remind
    )
    review_expiry = WorkTimerBoundary(this.review, _expiry_due, journal_action="expire", title="Expiration").Next(
        this.review_expire
    )
    review_remind = flow.Function(send_reminder).Annotation(title="Relancer").Next(this.review_reminded)
    review_reminded = flow.End().Annotation(title="Relance envoyée")
    review_expire = (
        flow.Function(expire_referral).Annotation(title="Expirer le positionnement").Next(this.review_expired)
    )
    review_expired = flow.End().Annotation(title="Expiré")
    after_review = (
        StateSwitch(referral_state)
        .Case(this.answer, [ReferralState.FORWARDED], "transmis")
        .Case(this.rebound, [ReferralState.EXPIRED], "expiré")
        .Default(this.closed, "non validé / annulé")
        .Annotation(title="Examen")
    )

    # Employer: retain the candidate (or refuse), then confirm the hire with the contract.
    answer = HumanTask(
        TaskKind.ANSWER_REFERRAL,
        role=Role.EMPLOYER,
        organisation=lot_awardee,
        open_while=_referral_in(*REFERRAL_STEPS_OPEN["answer"]),
        due=_reminder_due,
    ).Next(this.after_answer)
    answer_reminder = WorkTimerBoundary(this.answer, _reminder_due, journal_action="remind", title="Relance").Next(
        this.answer_remind
    )
    answer_expiry = WorkTimerBoundary(this.answer, _expiry_due, journal_action="expire", title="Expiration").Next(
        this.answer_expire
    )
    answer_remind = flow.Function(send_reminder).Annotation(title="Relancer").Next(this.answer_reminded)
    answer_reminded = flow.End().Annotation(title="Relance envoyée")
    answer_expire = (
        flow.Function(expire_referral).Annotation(title="Expirer le positionnement").Next(this.answer_expired)
    )
    answer_expired = flow.End().Annotation(title="Expiré")
    after_answer = (
        StateSwitch(referral_state)
        .Case(this.confirm_hire, [ReferralState.ACCEPTED], "retenu")
        .Case(this.rebound, [ReferralState.EXPIRED], "expiré")
        .Default(this.closed, "refusé / annulé")
        .Annotation(title="Réponse")
    )
    confirm_hire = HumanTask(
        TaskKind.CONFIRM_HIRE,
        role=Role.EMPLOYER,
        organisation=lot_awardee,
        open_while=_referral_in(*REFERRAL_STEPS_OPEN["confirm_hire"]),
        due=_reminder_due,
    ).Next(this.after_confirm)
    confirm_hire_reminder = WorkTimerBoundary(
        this.confirm_hire, _reminder_due, journal_action="remind", title="Relance"
    ).Next(this.confirm_hire_remind)
    confirm_hire_expiry = WorkTimerBoundary(
        this.confirm_hire, _expiry_due, journal_action="expire", title="Expiration"
    ).Next(this.confirm_hire_expire)
    confirm_hire_remind = flow.Function(send_reminder).Annotation(title="Relancer").Next(this.confirm_hire_reminded)
    confirm_hire_reminded = flow.End().Annotation(title="Relance envoyée")
    confirm_hire_expire = (
        flow.Function(expire_referral).Annotation(title="Expirer le positionnement").Next(this.confirm_hire_expired)
    )
    confirm_hire_expired = flow.End().Annotation(title="Expiré")
    after_confirm = (
        StateSwitch(referral_state)
        .Case(this.contract, [ReferralState.HIRED], "embauché·e")
        .Case(this.rebound, [ReferralState.EXPIRED], "expiré")
        .Default(this.closed, "refusé / annulé")
        .Annotation(title="Embauche")
    )

    # The hire created the placement (and its planned follow-ups): three follow-up timers.
    contract = flow.Handle(contract_recorded).Annotation(title="Contrat enregistré").Next(this.plan_follow_ups)
    plan_follow_ups = (
        flow.Split().Always(this.wait_1).Always(this.wait_3).Always(this.wait_6).Annotation(title="Suivis planifiés")
    )
    wait_1 = WorkTimer(_follow_up_moment(1), journal_action="follow_up_due", title="+1 mois").Next(this.check_1)
    wait_3 = WorkTimer(_follow_up_moment(3), journal_action="follow_up_due", title="+3 mois").Next(this.check_3)
    wait_6 = WorkTimer(_follow_up_moment(6), journal_action="follow_up_due", title="+6 mois").Next(this.check_6)
    check_1 = (
        Gate(_follow_up_still_pending(1), yes="à faire", no="fait / clos")
        .Then(this.follow_up_1)
        .Else(this.follow_ups_done)
        .Annotation(title="Suivi à +1 mois encore à faire ?")
    )
    check_3 = (
        Gate(_follow_up_still_pending(3), yes="à faire", no="fait / clos")
        .Then(this.follow_up_3)
        .Else(this.follow_ups_done)
        .Annotation(title="Suivi à +3 mois encore à faire ?")
    )
    check_6 = (
        Gate(_follow_up_still_pending(6), yes="à faire", no="fait / clos")
        .Then(this.follow_up_6)
        .Else(this.follow_ups_done)
        .Annotation(title="Suivi à +6 mois encore à faire ?")
    )
    follow_up_1 = HumanTask(
        TaskKind.FOLLOW_UP,
        role=Role.ADVISER,
        organisation=youth_agency,
        open_while=_follow_up_pending,
        extra=_follow_up_extra(1),
    ).Next(this.follow_ups_done)
    follow_up_3 = HumanTask(
        TaskKind.FOLLOW_UP,
        role=Role.ADVISER,
        organisation=youth_agency,
        open_while=_follow_up_pending,
        extra=_follow_up_extra(3),
    ).Next(this.follow_ups_done)
    follow_up_6 = HumanTask(
        TaskKind.FOLLOW_UP,
        role=Role.ADVISER,
        organisation=youth_agency,
        open_while=_follow_up_pending,
        extra=_follow_up_extra(6),
    ).Next(this.follow_ups_done)
    follow_ups_done = flow.Join().Annotation(title="Suivis terminés").Next(this.after_follow_ups)
    after_follow_ups = (
        StateSwitch(pathway_state)
        .Case(this.record_exit, [PathwayState.PLACED, PathwayState.IN_FOLLOW_UP], "en poste / en suivi")
        .Default(this.finished, "parcours clos")
        .Annotation(title="Parcours ouvert ?")
    )
    record_exit = HumanTask(
        TaskKind.RECORD_EXIT,
        role=Role.ADVISER,
        organisation=youth_agency,
        open_while=_pathway_in(PathwayState.PLACED, PathwayState.IN_FOLLOW_UP),
        due=_in_days(EXIT_RECORD_DAYS),
    ).Next(this.finished)

    # An expired referral comes back to the adviser.
    rebound = HumanTask(
        TaskKind.REFERRAL_EXPIRED,
        role=Role.ADVISER,
        organisation=youth_agency,
        open_while=_rebound_pending,
        due=_in_days(REBOUND_DAYS),
    ).Next(this.finished)

    closed = flow.End().Annotation(title="Positionnement clos")
    finished = flow.End().Annotation(title="Terminé")


FLOWS = (IntakeFlow, PlacementFlow)


# Read at every change of a pathway, a referral or a follow-up (parcours.work.listener): compiled once.
_open_tasks_of_pathway = Compiled(
    lambda pathway_id: (
        WorkTask.objects.filter(pathway_id=pathway_id, status__in=OPEN_TASK_STATUSES)
        .select_related("task", "pathway", "referral", "follow_up__placement")
        .order_by("task_id")
    )
)


# The processes those tasks may belong to, locked as `lock_processes` does (SKIP LOCKED), sent with the read, before
# it. After a change of a referral (or of its placement), only that referral's processes: the change holds that row,
# not the pathway, and locking its siblings' processes until commit would make a transition on another referral of
# the same pathway wait (both busy, had each taken the other's). A change the pathway's lock orders takes them all.
_lock_processes_of_referral = Compiled(
    lambda referral_id: (
        WorkProcess.objects.filter(referral_id=referral_id)
        .select_for_update(skip_locked=True)
        .values_list("pk")
        .order_by()
    )
)
_lock_processes_of_pathway = Compiled(
    # The pathway's processes (finished ones too: a few rows, on their own index, 0.02 ms where joining the queue rows
    # to viewflow's tasks took 0.15 ms) but those of referrals still open: their tasks read their referral's state
    # only, which a pathway's change leaves as it is, and a transition of that referral must not wait on them.
    lambda pathway_id: (
        WorkProcess.objects.filter(pathway_id=pathway_id)
        .filter(Q(referral__isnull=True) | ~Q(referral__state__in=REFERRAL_OPEN_STATES))
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk")
        .order_by()
    )
)


def open_tasks_of_pathway(pathway_id, *, locked=None, referral_id=None, leads=()) -> list:
    """The open tasks of a pathway. `locked`: a set to which the processes locked for them are added (those of
    `referral_id` only, when given) — the lock goes first, in the same round trip on PostgreSQL
    (roles.statements.Compiled `after`), and the read, in its own snapshot, sees what a transaction that held one of
    them committed. A process another transaction holds is skipped (not waited for): the caller locks what it still
    needs with `lock_processes`, which waits a little. `leads`: writes not sent yet, sent first (`Compiled`)."""
    if locked is None or not (connection.features.has_select_for_update and one_round_trip(connection)):
        # the processes locked afterwards, those of the tasks settled only
        return _open_tasks_of_pathway(pathway_id, leads=leads)
    if referral_id is not None:
        lock = _lock_processes_of_referral.statement(referral_id)
    else:
        lock = _lock_processes_of_pathway.statement(pathway_id)
    rows = []
    tasks = _open_tasks_of_pathway(pathway_id, after=lock, after_rows=rows, leads=leads)
    locked.update(pk for (pk,) in rows)
    return tasks


@functools.cache
def may_settle(machine: str, from_state: str, to_state: str) -> bool:
    """Whether a transition of `machine` from `from_state` to `to_state` can end what a human task waits for: some
    task's condition reads that machine's states and holds in one of the two, not the other (a condition that does
    not say what it reads counts as reading everything). When it cannot, the listener reads no task."""
    for flow_class in FLOWS:
        for node in flow_class.instance.nodes():
            if not isinstance(node, HumanTask):
                continue
            reads = getattr(node._open_while, "reads", None)
            if reads is None:
                return True
            states = reads.get(machine)
            if states is not None and (from_state in states) != (to_state in states):
                return True
    return False
