"""django-fsm-2 state machines built from the transition tables.

Each machine is an abstract model holding the protected state field and one fsm transition method per
declared transition; the concrete models in parcours.models inherit them. The methods only set the
fields of their own row that the transition implies (dates, reasons); everything crossing aggregates
(grants, other objects, journal) is done by the services through workflows.engine.fire.
"""

from django.db import models
from django.utils import timezone
from django_fsm import GET_STATE, FSMField, FSMModelMixin, transition

from workflows.states import HoursLineState, PathwayState, PlacementState, ReferralState
from workflows.transitions import INITIAL_STATES, MACHINES


def _declare(spec, apply=None, decide_target=None):
    def method(self, **inputs):
        if apply is not None:
            apply(self, **inputs)

    method.__name__ = spec.name
    method.__qualname__ = spec.name
    method.__doc__ = spec.label
    target = spec.target
    if len(spec.targets) > 1:
        target = GET_STATE(lambda instance, **kw: decide_target(instance), states=list(spec.targets))
    return transition(field="state", source=list(spec.sources), target=target, custom={"spec": spec})(method)


# --- Pathway -------------------------------------------------------------------------------------------------
def _pathway_exit(self, *, exited_on, situation, **_):
    self.exited_on = exited_on


def _pathway_close(self, **_):
    self.closed_on = timezone.localdate()


def _pathway_reopen(self, **_):
    self.exited_on = None
    self.closed_on = None
    self.reopened_on = timezone.localdate()


def _pathway_reopen_target(self):
    return PathwayState.ELIGIBLE if self.participant_eligible_on(timezone.localdate()) else PathwayState.INTAKE


# --- Referral ------------------------------------------------------------------------------------------------
def _referral_forward(self, **_):
    self.forwarded_at = timezone.now()


def _referral_reasoned(self, *, reason, **_):
    self.decision_reason = reason
    self.decided_at = timezone.now()


def _referral_decided(self, **_):
    self.decided_at = timezone.now()


# --- Placement -----------------------------------------------------------------------------------------------
def _placement_start(self, **_):
    self.started_on = self.start_date


def _placement_end(self, *, end_date, end_kind, reason="", **_):
    self.ended_on = end_date
    self.end_kind = end_kind
    self.end_reason = reason or ""


def _placement_change_start_date(self, *, start_date, **_):
    self.start_date = start_date


def _placement_cancel(self, *, reason, **_):
    self.end_reason = reason


# --- Hours line ----------------------------------------------------------------------------------------------
def _hours_validate(self, **_):
    self.validated_at = timezone.now()


def _hours_reject(self, *, reason, **_):
    self.rejection_reason = reason


def _hours_lock(self, **_):
    self.locked_at = timezone.now()


# --- The machines: one fsm method per declared transition --------------------------------------------------
# What a transition sets on its own row, beyond the state (transitions absent here only change the state).
APPLY = {
    ("pathway", "reject_eligibility"): _pathway_close,
    ("pathway", "exit"): _pathway_exit,
    ("pathway", "withdraw"): _pathway_close,
    ("pathway", "mark_lost_contact"): _pathway_close,
    ("pathway", "reopen"): _pathway_reopen,
    ("referral", "decline"): _referral_reasoned,
    ("referral", "forward"): _referral_forward,
    ("referral", "refuse"): _referral_reasoned,
    ("referral", "hire"): _referral_decided,
    ("referral", "cancel"): _referral_reasoned,
    ("referral", "expire"): _referral_decided,
    ("placement", "start"): _placement_start,
    ("placement", "end"): _placement_end,
    ("placement", "change_start_date"): _placement_change_start_date,
    ("placement", "cancel"): _placement_cancel,
    ("hoursline", "validate"): _hours_validate,
    ("hoursline", "reject"): _hours_reject,
    ("hoursline", "lock"): _hours_lock,
}
# Transitions with several targets: which one, read from the row.
DECIDE_TARGET = {("pathway", "reopen"): _pathway_reopen_target}


def _machine(class_name, machine, enum):
    """An abstract model with the protected state field and every declared transition of `machine`."""
    attrs = {
        "__module__": __name__,
        "state": FSMField("état", default=INITIAL_STATES[machine], choices=enum.choices, protected=True),
        "Meta": type("Meta", (), {"abstract": True}),
    }
    for name, spec in MACHINES[machine].items():
        attrs[name] = _declare(spec, APPLY.get((machine, name)), DECIDE_TARGET.get((machine, name)))
    return type(class_name, (FSMModelMixin, models.Model), attrs)


PathwayMachine = _machine("PathwayMachine", "pathway", PathwayState)
ReferralMachine = _machine("ReferralMachine", "referral", ReferralState)
PlacementMachine = _machine("PlacementMachine", "placement", PlacementState)
HoursLineMachine = _machine("HoursLineMachine", "hoursline", HoursLineState)
