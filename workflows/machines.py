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
from workflows.transitions import HOURS_LINE, INITIAL_STATES, PATHWAY, PLACEMENT, REFERRAL


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
def _pathway_exit(self, *, exited_on, category, detail="", **_):
    self.exited_on = exited_on


def _pathway_close(self, **_):
    self.closed_on = timezone.localdate()


def _pathway_reopen(self, **_):
    self.exited_on = None
    self.closed_on = None


def _pathway_reopen_target(self):
    return (
        PathwayState.ELIGIBLE if self.participant.eligibility_valid_on(timezone.localdate()) else PathwayState.INTAKE
    )


class PathwayMachine(FSMModelMixin, models.Model):
    state = FSMField("état", default=INITIAL_STATES["pathway"], choices=PathwayState.choices, protected=True)

    submit_eligibility = _declare(PATHWAY["submit_eligibility"])
    validate_eligibility = _declare(PATHWAY["validate_eligibility"])
    reject_eligibility = _declare(PATHWAY["reject_eligibility"], _pathway_close)
    refer = _declare(PATHWAY["refer"])
    return_to_eligible = _declare(PATHWAY["return_to_eligible"])
    place = _declare(PATHWAY["place"])
    start_follow_up = _declare(PATHWAY["start_follow_up"])
    exit = _declare(PATHWAY["exit"], _pathway_exit)
    withdraw = _declare(PATHWAY["withdraw"], _pathway_close)
    mark_lost_contact = _declare(PATHWAY["mark_lost_contact"], _pathway_close)
    reopen = _declare(PATHWAY["reopen"], _pathway_reopen, _pathway_reopen_target)

    class Meta:
        abstract = True


# --- Referral ------------------------------------------------------------------------------------------------
def _referral_forward(self, **_):
    self.forwarded_at = timezone.now()


def _referral_reasoned(self, *, reason, **_):
    self.decision_reason = reason
    self.decided_at = timezone.now()


def _referral_decided(self, **_):
    self.decided_at = timezone.now()


class ReferralMachine(FSMModelMixin, models.Model):
    state = FSMField("état", default=INITIAL_STATES["referral"], choices=ReferralState.choices, protected=True)

    start_review = _declare(REFERRAL["start_review"])
    approve = _declare(REFERRAL["approve"])
    decline = _declare(REFERRAL["decline"], _referral_reasoned)
    forward = _declare(REFERRAL["forward"], _referral_forward)
    accept = _declare(REFERRAL["accept"])
    refuse = _declare(REFERRAL["refuse"], _referral_reasoned)
    hire = _declare(REFERRAL["hire"], _referral_decided)
    cancel = _declare(REFERRAL["cancel"], _referral_reasoned)
    expire = _declare(REFERRAL["expire"], _referral_decided)

    class Meta:
        abstract = True


# --- Placement -----------------------------------------------------------------------------------------------
def _placement_start(self, **_):
    self.started_on = self.start_date


def _placement_end(self, *, end_date, end_kind, reason="", **_):
    self.ended_on = end_date
    self.end_kind = end_kind
    self.end_reason = reason or ""


def _placement_cancel(self, *, reason, **_):
    self.end_reason = reason


class PlacementMachine(FSMModelMixin, models.Model):
    state = FSMField("état", default=INITIAL_STATES["placement"], choices=PlacementState.choices, protected=True)

    start = _declare(PLACEMENT["start"], _placement_start)
    end = _declare(PLACEMENT["end"], _placement_end)
    cancel = _declare(PLACEMENT["cancel"], _placement_cancel)

    class Meta:
        abstract = True


# --- Hours line ----------------------------------------------------------------------------------------------
def _hours_validate(self, **_):
    self.validated_at = timezone.now()


def _hours_reject(self, *, reason, **_):
    self.rejection_reason = reason


def _hours_lock(self, **_):
    self.locked_at = timezone.now()


class HoursLineMachine(FSMModelMixin, models.Model):
    state = FSMField("état", default=INITIAL_STATES["hoursline"], choices=HoursLineState.choices, protected=True)

    validate = _declare(HOURS_LINE["validate"], _hours_validate)
    reject = _declare(HOURS_LINE["reject"], _hours_reject)
    lock = _declare(HOURS_LINE["lock"], _hours_lock)

    class Meta:
        abstract = True
