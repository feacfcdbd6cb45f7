"""The work layer's data: viewflow processes about a pathway or a referral, and the routing of their human tasks
(which organisation and role may take them, their subject, due moment and outcome). Part of the case app: the
tables keep their original names (workflows_workprocess, workflows_worktask)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from roles.choices import ChoiceLabels
from roles.enums import Role
from roles.policy import ScopePaths
from workflows.models import JournalEvent

OPEN_TASK_STATUSES = (STATUS.NEW, STATUS.ASSIGNED)
OPEN_TASKS_Q = models.Q(status__in=[str(status) for status in OPEN_TASK_STATUSES])
ARMED_TIMER_STATUSES = (STATUS.NEW, STATUS.SCHEDULED)  # a boundary timer not fired yet


class TaskKind(models.TextChoices):
    """The kinds of human tasks of the flows (parcours/work/flows.py); each kind has its role and its actions."""

    SUBMIT_ELIGIBILITY = "submit_eligibility", _("Constituer le dossier d'éligibilité")
    REVIEW_ELIGIBILITY = "review_eligibility", _("Valider l'éligibilité")
    REVIEW_REFERRAL = "review_referral", _("Examiner le positionnement")
    ANSWER_REFERRAL = "answer_referral", _("Répondre à la candidature")
    CONFIRM_HIRE = "confirm_hire", _("Confirmer l'embauche")
    FOLLOW_UP = "follow_up", _("Faire le point de suivi")
    RECORD_EXIT = "record_exit", _("Enregistrer la sortie")
    REFERRAL_EXPIRED = "referral_expired", _("Rebondir après un positionnement expiré")


class WorkProcess(ChoiceLabels, Process):
    """A viewflow process about one pathway (intake flow) or one referral (placement flow).

    The fsm states of the pathway and the referral stay the single source of truth; the process only says who
    must act next. One placement process per referral; a pathway may have several intake processes (reopened).
    """

    pathway = models.ForeignKey(
        "parcours.Pathway", on_delete=models.PROTECT, related_name="work_processes", verbose_name="parcours"
    )
    referral = models.OneToOneField(
        "parcours.Referral",
        on_delete=models.PROTECT,
        related_name="work_process",
        null=True,
        blank=True,
        verbose_name="positionnement",
    )

    class Meta:
        db_table = "workflows_workprocess"
        verbose_name = "processus"
        verbose_name_plural = "processus"


class WorkTask(ChoiceLabels, models.Model):
    """Who may take a human task of a flow: one organisation and one role (a projection of viewflow's Task).

    The queue of a user is a filter on (organisation, role) checked with a subquery on their memberships, never a
    list of per-object grants. Status, owner and dates stay on viewflow's Task; this row adds the routing, the
    subject, the due moment and how the task ended (by whom, through which journal event).
    """

    SCOPE_PATHS = ScopePaths(organisation="organisation")

    task = models.OneToOneField(
        Task, on_delete=models.CASCADE, primary_key=True, related_name="work", verbose_name="tâche viewflow"
    )
    kind = models.CharField("type", max_length=30, choices=TaskKind.choices)
    organisation = models.ForeignKey(
        "roles.Organisation", on_delete=models.PROTECT, related_name="work_tasks", verbose_name="organisation"
    )
    role = models.CharField("rôle", max_length=20, choices=Role.choices)
    pathway = models.ForeignKey(
        "parcours.Pathway", on_delete=models.PROTECT, related_name="work_tasks", verbose_name="parcours"
    )
    referral = models.ForeignKey(
        "parcours.Referral",
        on_delete=models.PROTECT,
        related_name="work_tasks",
        null=True,
        blank=True,
        verbose_name="positionnement",
    )
    follow_up = models.ForeignKey(
        "parcours.FollowUp",
        on_delete=models.SET_NULL,  # planned follow-ups of a cancelled placement are dropped by the service
        related_name="work_tasks",
        null=True,
        blank=True,
        verbose_name="suivi prévu",
    )
    # Copies of viewflow's Task.status and owner, kept in step by a database trigger (parcours/work/projection.py):
    # inboxes and queues read the open tasks of a team through a partial index instead of the team's whole history.
    status = models.CharField("statut", max_length=50, default=STATUS.NEW, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # viewflow's Task holds the real reference
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # read on open tasks only, through worktask_owned_open_idx
        verbose_name="attribuée à",
    )
    due_at = models.DateTimeField("échéance", null=True, blank=True)
    outcome = models.CharField("issue", max_length=50, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.RESTRICT,
        related_name="+",
        null=True,
        blank=True,
        db_index=False,  # worktask_archive_idx starts with it
        verbose_name="réalisée par",
    )
    closing_event = models.ForeignKey(
        JournalEvent,
        on_delete=models.RESTRICT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="événement de clôture",
    )

    class Meta:
        db_table = "workflows_worktask"
        verbose_name = "tâche"
        ordering = ["due_at", "task_id"]
        permissions = [("supervise_worktask", "Répartir les tâches de son organisation")]
        indexes = [
            models.Index(
                fields=["organisation", "role", "status", "kind"], name="worktask_open_idx", condition=OPEN_TASKS_Q
            ),
            # A team's open tasks in the order work lists show them (due first, overdue before all: see
            # selectors.tasks.overdue_first), with what the counts of a home filter on: the home's counts and its
            # next actions read this index alone (a facilitator's 7,804 open tasks: 31 -> 4 ms and 17 -> 0.1 ms).
            models.Index(
                fields=["organisation", "role", "due_at", "task"],
                include=["status", "owner"],
                name="worktask_open_due_idx",
                condition=OPEN_TASKS_Q,
            ),
            models.Index(fields=["owner"], name="worktask_owned_open_idx", condition=OPEN_TASKS_Q),
            models.Index(fields=["pathway"], name="worktask_pathway_open_idx", condition=OPEN_TASKS_Q),
            models.Index(fields=["done_by", "organisation"], name="worktask_archive_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self):
        return self.status in OPEN_TASK_STATUSES

    @property
    def is_overdue(self):
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()
