"""The case data of Parcours: participants, eligibility, the clause register, offers, pathways, referrals,
placements, hours, follow-ups and exits. State machines come from workflows.machines; writes go through
parcours.services, reads through parcours.selectors."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase

from parcours.counting import month_capacity
from parcours.dates import add_months
from parcours.text import fold, identity_key
from roles.choices import ChoiceLabels
from roles.enums import Role
from roles.policy import ScopePaths
from roles.statements import Compiled
from workflows.machines import HoursLineMachine, PathwayMachine, PlacementMachine, ReferralMachine
from workflows.states import (
    PATHWAY_OPEN_STATES,
    REFERRAL_FORWARDED_STATES,
    REFERRAL_OPEN_STATES,
    REFERRAL_REASONED_STATES,
    REFERRAL_REVIEW_STATES,
    HoursLineState,
    PathwayState,
    PlacementState,
    ReferralState,
)
from workflows.vocabulary import (
    EXIT_SITUATION_CATEGORY,
    AccessChannel,
    AssessmentDecision,
    ContractType,
    ExitCategory,
    ExitSituation,
    FollowUpKind,
    FulfilmentMode,
    LegalLever,
    PlacementEndKind,
    Programme,
    ProofKind,
    QualificationLevel,
    Sex,
    SizingMethod,
    StatementSource,
)

User = settings.AUTH_USER_MODEL

# Object grants (django-guardian, given to organisation groups) that the policy's participant scopes read.
PARTICIPANT_GRANTS = "parcours.ParticipantGroupObjectPermission"
REFERRAL_GRANTS = "parcours.ReferralGroupObjectPermission"
PLACEMENT_GRANTS = "parcours.PlacementGroupObjectPermission"


def _lot_paths(lot: str, **extra) -> ScopePaths:
    """Scope paths of a row reached through a lot (`lot` is the path to the ContractLot)."""
    prefix = f"{lot}__" if lot else ""
    return ScopePaths(
        facilitation=f"{prefix}contract__operation__facilitation_organisation",
        awardee=f"{prefix}awardee",
        buyer=f"{prefix}contract__buyer",
        **extra,
    )


# --- Participants and eligibility ----------------------------------------------------------------------------
def _valid_assessments(day: datetime.date, grace_days: int = 0):
    return _valid_between(day + datetime.timedelta(days=grace_days), day)


def _valid_between(decided_by: datetime.date, day: datetime.date):
    """Accepted assessments decided on `decided_by` or before and still valid on `day`."""
    return EligibilityAssessment.objects.filter(
        decision=AssessmentDecision.ACCEPTED, decided_at__date__lte=decided_by, valid_until__gte=day
    )


# Compiled once (roles.statements): what a guard or a service asks when nothing was read with a locked row (an
# approval, a hire and a referral's creation read it there: OfAParticipant.guard_annotations).
_eligible = Compiled(
    lambda participant_id, decided_by, day: (
        _valid_between(decided_by, day).filter(participant_id=participant_id).order_by().values_list("pk")[:1]
    ),
    arguments=3,
)


def eligibility_valid(participant_id, day: datetime.date, *, grace_days: int = 0) -> bool:
    """Eligibility counts only if validated on or before `day` (or within `grace_days` after it, when the lot's
    counting rules accept a late validation) and still valid that day. By id: the guards need not load the file."""
    if participant_id is None:
        return False
    return bool(_eligible(participant_id, day + datetime.timedelta(days=grace_days), day))


class OfAParticipant:
    """What the guards ask of any object of a participant's file (pathway, referral, placement).

    A guard that reads the database names what it reads (`guards.reads`); for a page of rows the engine asks the
    model to read it for all of them at once (`read_for_guards`, one statement), and the rows answer from memory."""

    def _guard_reads(self) -> dict:
        return self.__dict__.setdefault("_read_for_guards", {})

    def participant_eligible_on(self, day: datetime.date, *, grace_days: int = 0) -> bool:
        reads = self.__dict__.get("_read_for_guards", {})
        known = reads.get(("eligible_on", day, grace_days))
        if known is not None:
            return known
        if ("first_decided", day) in reads:  # read with the locked row (`eligible_at_start`)
            first = reads[("first_decided", day)]
            return first is not None and first <= day + datetime.timedelta(days=grace_days)
        return eligibility_valid(self.journal_participant_id, day, grace_days=grace_days)

    # From a row to its participant's id, for a read that starts at the row (`guard_annotations`).
    PARTICIPANT_PATH = "pathway__participant_id"
    # The guard reads `guard_annotations` answers: eligible today (an approval, a referral's creation); eligible on a
    # day the inputs give, with the lot's grace (a hire's start: workflows.guards.eligibility_valid_at_start).
    GUARD_ANNOTATED = frozenset({"eligible_today", "eligible_at_start"})

    @classmethod
    def guard_annotations(cls, name: str, day: datetime.date) -> dict:
        """What the locked read of one row adds for a guard of its transition that reads `name` on `day`
        (parcours.services.common.lock): asked in the read, not in a statement of its own. `remember_guard_read`
        then keeps the answer for the guard."""
        if name == "eligible_today":
            valid = _valid_assessments(day).filter(participant_id=OuterRef(cls.PARTICIPANT_PATH))
            return {"guard_eligible_today": Exists(valid)}
        if name == "eligible_at_start":
            # The first day an accepted assessment still valid on `day` was decided: eligible on `day` with a grace
            # of N days if that is at most `day` + N (the grace is the lot's, known once the row is read).
            valid = EligibilityAssessment.objects.filter(
                participant_id=OuterRef(cls.PARTICIPANT_PATH),
                decision=AssessmentDecision.ACCEPTED,
                decided_at__isnull=False,
                valid_until__gte=day,
            )
            first = valid.annotate(decided_on=TruncDate("decided_at")).order_by("decided_on").values("decided_on")[:1]
            return {"guard_first_decided": Subquery(first, output_field=models.DateField())}
        raise ValueError(f"{cls.__name__}: nothing to read for guards named {name!r}")

    def remember_guard_read(self, name: str, day: datetime.date) -> None:
        if name == "eligible_today":
            self._guard_reads()[("eligible_on", day, 0)] = bool(self.__dict__.pop("guard_eligible_today"))
        elif name == "eligible_at_start":
            self._guard_reads()[("first_decided", day)] = self.__dict__.pop("guard_first_decided")
        else:
            raise ValueError(f"{type(self).__name__}: nothing to read for guards named {name!r}")

    @classmethod
    def read_for_guards(cls, name: str, rows: list) -> None:
        if name != "eligible_today":
            raise ValueError(f"{cls.__name__}: nothing to read for guards named {name!r}")
        today = timezone.localdate()
        participants = {row.journal_participant_id for row in rows}
        eligible = set(
            _valid_assessments(today).filter(participant_id__in=participants).values_list("participant_id", flat=True)
        )
        for row in rows:
            row._guard_reads()[("eligible_on", today, 0)] = row.journal_participant_id in eligible


class Participant(ChoiceLabels, models.Model):
    """A young person followed by a Mission Locale. Minimal identity; never the NIR."""

    # The buyer's auditors reach a participant through the "audit" grant its referral to one of their contracts gave.
    SCOPE_PATHS = ScopePaths(
        participant=(PARTICIPANT_GRANTS, ""), audited=(PARTICIPANT_GRANTS, ""), follower="youth_agency"
    )

    first_name = models.CharField("prénom", max_length=100)
    last_name = models.CharField("nom", max_length=100)
    birth_date = models.DateField("date de naissance")
    email = models.EmailField("courriel", blank=True)
    phone = models.CharField("téléphone", max_length=20, blank=True)
    postcode = models.CharField("code postal", max_length=5)
    commune = models.CharField("commune", max_length=100)
    is_qpv_resident = models.BooleanField("réside en QPV", default=False)
    qualification_level = models.CharField(
        "niveau de qualification", max_length=20, choices=QualificationLevel.choices
    )
    programme = models.CharField("dispositif", max_length=10, choices=Programme.choices, default=Programme.NONE)
    # Optional, as declared by the young person: the share of women is a clause and ESF indicator.
    sex = models.CharField("sexe", max_length=1, choices=Sex.choices, blank=True, default="", db_default="")
    imilo_reference = models.CharField("identifiant i-milo", max_length=30, blank=True)
    youth_agency = models.ForeignKey(
        "roles.Organisation",
        on_delete=models.PROTECT,
        related_name="participants",
        db_index=False,  # participant_agency_name_idx starts with it
        verbose_name="Mission Locale",
    )
    referent_adviser = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="followed_participants", verbose_name="conseiller·ère référent·e"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by each edit of the file's data (participant_update): an edit sent from a form or an API read of an
    # older version is refused, instead of silently undoing what someone else changed in between.
    version = models.PositiveIntegerField("version des données", default=1, db_default=1, editable=False)
    # The information notice (RGPD art. 13) handed to the young person, recorded by the adviser.
    notice_given_on = models.DateField("notice d'information remise le", null=True, blank=True)
    # Retention: an inactive file is announced, then anonymised (parcours.services.retention).
    retention_notice_at = models.DateTimeField("anonymisation annoncée le", null=True, blank=True)
    anonymised_at = models.DateTimeField("anonymisé le", null=True, blank=True)
    # Derived on save (parcours.text): the folded names and i-milo reference that searches read (GIN trigram index
    # on PostgreSQL), and the normalised identity that no two files of a Mission Locale share unless the adviser
    # confirmed they are two people (homonyms born the same day).
    search_text = models.CharField("recherche", max_length=250, editable=False, default="")
    identity_key = models.CharField("identité normalisée", max_length=250, editable=False, default="")
    homonym_confirmed = models.BooleanField("homonyme confirmé", default=False, editable=False)
    # The state of the current pathway (the latest started), "" before the first: kept by database triggers on the
    # pathway table (parcours.selectors.current_state), never updated by Django (see save). The adviser's
    # list filters on it: reading it per participant through the pathways probed 15,000 rows per page.
    current_state = models.CharField(
        "état du parcours en cours",
        max_length=50,
        choices=PathwayState.choices,
        blank=True,
        editable=False,
        default="",
        db_default="",
    )

    # Fields whose changes are journaled (by name only, never by value).
    JOURNALED_FIELDS = [
        "first_name",
        "last_name",
        "birth_date",
        "email",
        "phone",
        "postcode",
        "commune",
        "is_qpv_resident",
        "qualification_level",
        "programme",
        "imilo_reference",
        "sex",
    ]

    class Meta:
        verbose_name = "participant·e"
        ordering = ["last_name", "first_name"]
        # Given to a buyer's group when a referral reaches one of its contracts: the reach of its auditors.
        permissions = [("audit_participant", "Auditer le parcours (contrats de l'acheteur)")]
        constraints = [
            models.UniqueConstraint(
                fields=["youth_agency", "imilo_reference"],
                condition=~Q(imilo_reference=""),
                name="participant_unique_imilo_reference",
            ),
            models.CheckConstraint(condition=Q(programme__in=Programme.values), name="participant_programme_valid"),
            # Intake de-duplication enforced by the database, whatever the number of concurrent requests.
            models.UniqueConstraint(
                fields=["youth_agency", "identity_key"],
                condition=Q(homonym_confirmed=False) & ~Q(identity_key=""),
                name="participant_unique_identity",
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="participant_sex_valid"),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="participant_name_idx"),
            # An adviser's list and search: the agency's participants in name order, searched on the index alone
            # (PostgreSQL; the included column is ignored elsewhere).
            models.Index(
                fields=["youth_agency", "last_name", "first_name", "id"],
                include=["search_text"],
                name="participant_agency_name_idx",
            ),
            # The same list filtered by the current pathway's state: one range per agency and state, in name order.
            models.Index(
                fields=["youth_agency", "current_state", "last_name", "first_name", "id"],
                include=["search_text"],
                name="participant_agency_state_idx",
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    def save(self, *args, **kwargs):
        new = kwargs.get("update_fields") is None and (
            self._state.adding or self.pk is None or kwargs.get("force_insert")
        )
        self.set_derived_columns(new=bool(new))
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text", "identity_key"} - {"current_state"}
        elif not new:
            # The triggers own current_state: writing this instance's copy back could undo a transition that ran
            # since it was read.
            deferred = self.get_deferred_fields()
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "current_state" and f.attname not in deferred
            ]
        super().save(*args, **kwargs)

    def set_derived_columns(self, *, new: bool) -> None:
        """What every save writes besides the fields: the search text and the identity key; and for a new row an
        empty current state (a new row has no pathway yet, a copy of a loaded participant neither)."""
        self.search_text = fold(f"{self.last_name} {self.first_name} {self.imilo_reference}")[:250]
        self.identity_key = (
            "" if self.anonymised_at else identity_key(self.first_name, self.last_name, self.birth_date)[:250]
        )
        if new:
            self.current_state = ""

    @property
    def journal_participant_id(self):
        return self.pk

    @property
    def pseudonym(self) -> str:
        """The stable pseudonym buyers' auditors see instead of the name."""
        return f"P-{self.pk:06d}"

    @property
    def age_band(self) -> str:
        age = self.age_on(timezone.localdate())
        if age < 18:
            return "16-17 ans"
        if age < 22:
            return "18-21 ans"
        if age <= 25:
            return "22-25 ans"
        return "26 ans et plus"

    def age_on(self, day: datetime.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def eligibility_valid_on(self, day: datetime.date, *, grace_days: int = 0) -> bool:
        return eligibility_valid(self.pk, day, grace_days=grace_days)


class EligibilityCriterion(models.Model):
    """The catalogue of eligible publics (data, loaded by a migration; editable in the admin)."""

    code = models.CharField("code", max_length=50, unique=True)
    label = models.CharField("libellé", max_length=200)
    description = models.TextField("description", blank=True)
    proof_hint = models.CharField("justificatif habituel", max_length=200, blank=True)
    is_health_data = models.BooleanField(
        "donnée de santé", default=False, help_text="Visible uniquement par le facilitateur (RQTH, AAH)."
    )
    # A criterion defined by an age (« Jeune de moins de 26 ans ») says so here: it applies only to someone at most
    # this old on the day it is declared and on the day eligibility is validated (workflows.guards.criteria_apply).
    max_age = models.PositiveSmallIntegerField(
        "âge maximum",
        null=True,
        blank=True,
        help_text="Âge au plus (inclus) le jour de la déclaration et de la validation ; vide : sans condition d'âge.",
    )
    is_active = models.BooleanField("actif", default=True)
    position = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "critère d'éligibilité"
        verbose_name_plural = "critères d'éligibilité"
        ordering = ["position", "code"]

    def __str__(self):
        return self.label


class EligibilityAssessment(ChoiceLabels, models.Model):
    SCOPE_PATHS = ScopePaths(
        participant=(PARTICIPANT_GRANTS, "participant"), audited=(PARTICIPANT_GRANTS, "participant")
    )

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="assessments")
    pathway = models.ForeignKey("Pathway", on_delete=models.CASCADE, related_name="assessments")
    criteria = models.ManyToManyField(EligibilityCriterion, through="AssessedCriterion", related_name="+")
    derogation_reason = models.TextField("dérogation motivée", blank=True)
    decision = models.CharField(
        "décision", max_length=10, choices=AssessmentDecision.choices, default=AssessmentDecision.PENDING
    )
    valid_until = models.DateField("valide jusqu'au", null=True, blank=True)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "évaluation d'éligibilité"
        verbose_name_plural = "évaluations d'éligibilité"
        ordering = ["-submitted_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(decision=AssessmentDecision.PENDING, decided_at__isnull=True, valid_until__isnull=True)
                    | Q(decision=AssessmentDecision.ACCEPTED, decided_at__isnull=False, valid_until__isnull=False)
                    | Q(decision=AssessmentDecision.REJECTED, decided_at__isnull=False, valid_until__isnull=True)
                ),
                name="assessment_decision_coherence",
            ),
        ]

    def __str__(self):
        return f"Éligibilité #{self.pk} ({self.get_decision_display()})"


class AssessedCriterion(ChoiceLabels, models.Model):
    assessment = models.ForeignKey(EligibilityAssessment, on_delete=models.CASCADE, related_name="assessed")
    criterion = models.ForeignKey(EligibilityCriterion, on_delete=models.PROTECT, related_name="+")
    proof_kind = models.CharField("justificatif", max_length=20, choices=ProofKind.choices, blank=True)
    proof_seen_on = models.DateField("justificatif vu le", null=True, blank=True)
    proof_seen_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        verbose_name = "critère retenu"
        verbose_name_plural = "critères retenus"
        constraints = [
            models.UniqueConstraint(fields=["assessment", "criterion"], name="assessed_criterion_unique"),
            models.CheckConstraint(
                condition=Q(proof_seen_on__isnull=True, proof_seen_by__isnull=True)
                | Q(proof_seen_on__isnull=False, proof_seen_by__isnull=False),
                name="assessed_criterion_proof_coherence",
            ),
        ]

    def __str__(self):
        return f"{self.criterion_id} ({self.assessment_id})"


# --- Clause register -----------------------------------------------------------------------------------------
class Operation(models.Model):
    SCOPE_PATHS = ScopePaths(
        organisation="facilitation_organisation", facilitation="facilitation_organisation", buyer="contracts__buyer"
    )

    name = models.CharField("nom", max_length=200)
    commune = models.CharField("commune", max_length=100)
    is_anru = models.BooleanField("opération ANRU / QPV", default=False)
    facilitation_organisation = models.ForeignKey(
        "roles.Organisation", on_delete=models.PROTECT, related_name="operations", verbose_name="structure porteuse"
    )
    starts_on = models.DateField("début")
    ends_on = models.DateField("fin")

    class Meta:
        verbose_name = "opération"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")),
                name="operation_dates",
                violation_error_message="La fin de l'opération ne peut pas précéder son début.",
            )
        ]

    def __str__(self):
        return self.name


class PublicContract(ChoiceLabels, models.Model):
    SCOPE_PATHS = ScopePaths(facilitation="operation__facilitation_organisation", buyer="buyer")

    operation = models.ForeignKey(
        Operation, on_delete=models.PROTECT, related_name="contracts", verbose_name="opération"
    )
    reference = models.CharField("référence", max_length=50)
    title = models.CharField("objet", max_length=200)
    buyer = models.ForeignKey(
        "roles.Organisation", on_delete=models.PROTECT, related_name="bought_contracts", verbose_name="acheteur"
    )
    legal_lever = models.CharField("levier juridique", max_length=10, choices=LegalLever.choices)
    notified_on = models.DateField("notifié le", null=True, blank=True)
    # The CCAP's penalty per missing insertion hour: the clause report proposes shortfall × rate, the buyer decides.
    penalty_per_missing_hour = models.DecimalField(
        "pénalité par heure manquante (€)", max_digits=8, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = "marché public"
        verbose_name_plural = "marchés publics"
        ordering = ["reference"]
        constraints = [
            # The service also refuses a reference that differs only by case (register.contract_create).
            models.UniqueConstraint(
                fields=["operation", "reference"],
                name="contract_unique_reference",
                violation_error_message="Cette référence existe déjà dans cette opération.",
            ),
            models.CheckConstraint(
                condition=Q(penalty_per_missing_hour__isnull=True) | Q(penalty_per_missing_hour__gte=0),
                name="contract_penalty_positive",
                violation_error_message="La pénalité par heure manquante ne peut pas être négative.",
            ),
        ]

    def __str__(self):
        return f"{self.reference} — {self.title}"


class CountingRuleSet(models.Model):
    """A version of the counting rules of a charter (what insertion hours count, per fulfilment mode).

    Data, edited in the administration: a version used by a lot is never changed (a new version is published
    instead), so every computed figure can name the version that produced it. `facilitation_organisation` empty:
    offered to every facilitation organisation (the platform's defaults)."""

    name = models.CharField("charte", max_length=120)
    version = models.PositiveSmallIntegerField("version", default=1)
    valid_from = models.DateField("en vigueur depuis")
    facilitation_organisation = models.ForeignKey(
        "roles.Organisation",
        on_delete=models.PROTECT,
        related_name="counting_rule_sets",
        null=True,
        blank=True,
        verbose_name="structure porteuse",
    )
    eligibility_grace_days = models.PositiveSmallIntegerField(
        "validation tardive de l'éligibilité acceptée (jours)",
        default=0,
        help_text="0 : seule compte une éligibilité validée au plus tard le jour du début du contrat.",
    )
    count_outside_execution_window = models.BooleanField(
        "compter les heures hors de la période d'exécution du lot", default=False
    )
    long_contract_min_months = models.PositiveSmallIntegerField(
        "contrat long à partir de (mois)",
        default=6,
        help_text="CDI, alternance, et CDD ou intérim d'au moins cette durée prévue.",
    )
    long_contract_bonus_hours = models.DecimalField(
        "bonification forfaitaire d'un contrat long (heures)", max_digits=7, decimal_places=2, default=0
    )
    long_contract_factor = models.DecimalField(
        "coefficient des heures d'un contrat long", max_digits=4, decimal_places=2, default=1
    )
    notes = models.TextField("texte de la charte", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "règles de comptage"
        verbose_name_plural = "règles de comptage"
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version"],
                name="counting_rules_unique_version",
                violation_error_message="Cette charte a déjà une version portant ce numéro.",
            ),
            models.CheckConstraint(
                condition=Q(long_contract_bonus_hours__gte=0),
                name="counting_rules_bonus",
                violation_error_message="La bonification d'un contrat long ne peut pas être négative.",
            ),
            models.CheckConstraint(
                condition=Q(long_contract_factor__gte=1, long_contract_factor__lte=3),
                name="counting_rules_factor",
                violation_error_message="Le coefficient d'un contrat long est compris entre 1 et 3.",
            ),
        ]

    def __str__(self):
        return f"{self.name} — v{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version} (en vigueur depuis le {self.valid_from:%d/%m/%Y})"


class CountingModeRule(ChoiceLabels, models.Model):
    """What counts for one fulfilment mode in a version of the rules."""

    rule_set = models.ForeignKey(
        CountingRuleSet, on_delete=models.CASCADE, related_name="mode_rules", verbose_name="version des règles"
    )
    mode = models.CharField("modalité", max_length=30, choices=FulfilmentMode.choices)
    counts = models.BooleanField("heures comptées", default=True)
    factor = models.DecimalField("coefficient", max_digits=4, decimal_places=2, default=1)
    cap_hours_per_placement = models.DecimalField(
        "plafond par mise en poste (heures)", max_digits=7, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = "règle par modalité"
        verbose_name_plural = "règles par modalité"
        ordering = ["rule_set", "mode"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "mode"],
                name="counting_mode_rule_unique",
                violation_error_message="Cette version a déjà une règle pour cette modalité.",
            ),
            models.CheckConstraint(
                condition=Q(factor__gte=0, factor__lte=3),
                name="counting_mode_rule_factor",
                violation_error_message="Le coefficient d'une modalité est compris entre 0 et 3.",
            ),
            models.CheckConstraint(
                condition=Q(cap_hours_per_placement__isnull=True) | Q(cap_hours_per_placement__gte=0),
                name="counting_mode_rule_cap",
                violation_error_message="Le plafond d'heures par mise en poste ne peut pas être négatif.",
            ),
        ]

    def __str__(self):
        return f"{self.get_mode_display()} ({self.rule_set})"


class ContractLot(ChoiceLabels, models.Model):
    """A lot carrying the insertion clause: target hours, fulfilment modes, execution window, awardee."""

    SCOPE_PATHS = _lot_paths("")

    contract = models.ForeignKey(PublicContract, on_delete=models.PROTECT, related_name="lots", verbose_name="marché")
    number = models.PositiveSmallIntegerField("numéro")
    title = models.CharField("intitulé", max_length=200)
    trade = models.CharField("corps de métier", max_length=100)
    amount_excl_tax = models.DecimalField("montant HT (€)", max_digits=12, decimal_places=2)
    sizing_method = models.CharField("méthode de calcul", max_length=20, choices=SizingMethod.choices)
    labour_share = models.DecimalField("part de main-d'œuvre", max_digits=4, decimal_places=3, null=True, blank=True)
    hourly_cost = models.DecimalField("coût horaire moyen (€)", max_digits=6, decimal_places=2, null=True, blank=True)
    insertion_rate = models.DecimalField("taux d'insertion", max_digits=4, decimal_places=3, null=True, blank=True)
    target_hours = models.DecimalField("heures d'insertion prévues", max_digits=9, decimal_places=2)
    fulfilment_modes = models.JSONField("modalités autorisées", default=list)
    execution_starts_on = models.DateField("début d'exécution")
    execution_ends_on = models.DateField("fin d'exécution")
    awardee = models.ForeignKey(
        "roles.Organisation",
        on_delete=models.PROTECT,
        related_name="awarded_lots",
        null=True,
        blank=True,
        verbose_name="attributaire",
    )
    counting_rules = models.ForeignKey(
        CountingRuleSet, on_delete=models.PROTECT, related_name="lots", verbose_name="règles de comptage"
    )

    class Meta:
        verbose_name = "lot"
        ordering = ["contract__reference", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "number"],
                name="lot_unique_number",
                violation_error_message="Ce marché a déjà un lot portant ce numéro.",
            ),
            models.CheckConstraint(
                condition=Q(execution_ends_on__gte=models.F("execution_starts_on")),
                name="lot_execution_window",
                violation_error_message="La fin d'exécution ne peut pas précéder son début.",
            ),
            models.CheckConstraint(
                condition=Q(target_hours__gte=0),
                name="lot_target_hours_positive",
                violation_error_message="Les heures d'insertion prévues ne peuvent pas être négatives.",
            ),
        ]

    def __str__(self):
        return f"Lot {self.number} — {self.title}"

    def month_in_execution_window(self, month: datetime.date) -> bool:
        first = self.execution_starts_on.replace(day=1)
        return first <= month <= self.execution_ends_on


class LotHoursSummary(models.Model):
    """The hours a lot's counting rules count, kept so that homes and the register read one row per lot instead of
    counting every placement of the lot (parcours.selectors.lot_hours). Derived data, never a source: every
    journaled change that can move the count marks the row stale in the writer's transaction; the next read (or
    the worker) recounts. `counted` is null while a reader recounts (`token` names that reader)."""

    lot = models.OneToOneField(ContractLot, on_delete=models.CASCADE, primary_key=True, related_name="hours_summary")
    fresh = models.BooleanField(default=False)
    token = models.CharField(max_length=32, blank=True)
    counted = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    declared = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    rules_label = models.CharField(max_length=300, blank=True)
    # The dashboard's breakdowns: counted hours by month, mode and public, participants by public (every public,
    # health ones included: readers drop those their role may not see).
    breakdown = models.JSONField(default=dict)
    computed_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "heures comptées d'un lot"
        verbose_name_plural = "heures comptées des lots"

    def __str__(self):
        return f"{self.lot_id}: {self.counted}"


class PathwayFiguresSnapshot(ChoiceLabels, models.Model):
    """The dashboard's pathway figures (how many pathways reached each state, how long the stays lasted, exits) of
    one team's scope, kept for PATHWAY_FIGURES_MINUTES (parcours.selectors.kept_figures). Derived data, never a
    source: counting them reads every state change of the team's pathways in the journal (0.8 s for 50,000
    pathways), which a dashboard cannot pay on every view. The scope of `participant.view` depends on the team only
    (organisation and role), so one row serves every member. Aggregates only: no participant appears in it."""

    organisation = models.ForeignKey("roles.Organisation", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    # {"reached": {state: pathways}, "stays": {state: [stays, median days, p90 days]},
    #  "exits": {category: [at the exit, at six months]}}
    figures = models.JSONField()
    computed_at = models.DateTimeField()
    # Last time a member read it: the worker keeps fresh the teams that use their dashboard, not the others.
    read_at = models.DateTimeField()

    class Meta:
        verbose_name = "chiffres des parcours d'une équipe"
        verbose_name_plural = "chiffres des parcours des équipes"
        constraints = [models.UniqueConstraint(fields=["organisation", "role"], name="pathway_figures_one_per_team")]

    def __str__(self):
        return f"{self.organisation_id}/{self.role} at {self.computed_at:%Y-%m-%d %H:%M}"


class JobOffer(ChoiceLabels, models.Model):
    """A job description (fiche de poste) attached to a lot."""

    SCOPE_PATHS = _lot_paths("lot")

    lot = models.ForeignKey(ContractLot, on_delete=models.PROTECT, related_name="offers")
    title = models.CharField("intitulé du poste", max_length=200)
    trade = models.CharField("métier", max_length=100)
    rome_code = models.CharField("code ROME", max_length=5, blank=True)
    contract_type = models.CharField("type de contrat", max_length=30, choices=ContractType.choices)
    weekly_hours = models.DecimalField("heures par semaine", max_digits=4, decimal_places=2)
    location = models.CharField("lieu", max_length=100)
    is_qpv_mandatory = models.BooleanField("réservé aux résidents QPV", default=False)
    positions = models.PositiveSmallIntegerField("nombre de postes", default=1)
    market_context = models.TextField("contexte du marché", blank=True)
    is_open = models.BooleanField("ouverte", default=True)
    closed_at = models.DateTimeField("clôturée le", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "offre"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_open=True, closed_at__isnull=True) | Q(is_open=False, closed_at__isnull=False),
                name="offer_closed_coherence",
                violation_error_message="Une offre clôturée a une date de clôture, une offre ouverte n'en a pas.",
            ),
            models.CheckConstraint(
                condition=Q(positions__gte=1),
                name="offer_positions_positive",
                violation_error_message="Une offre compte au moins un poste.",
            ),
            models.CheckConstraint(
                condition=Q(weekly_hours__gte=1, weekly_hours__lte=48),
                name="offer_weekly_hours_range",
                violation_error_message="La durée hebdomadaire est comprise entre 1 et 48 heures.",
            ),
        ]

    def __str__(self):
        return self.title


# --- Pathway and its steps -----------------------------------------------------------------------------------
class Pathway(ChoiceLabels, PathwayMachine, OfAParticipant):
    """One episode of a participant's insertion pathway (parcours)."""

    MACHINE = "pathway"
    SCOPE_PATHS = ScopePaths(
        participant=(PARTICIPANT_GRANTS, "participant"), audited=(PARTICIPANT_GRANTS, "participant")
    )
    PARTICIPANT_PATH = "participant_id"

    # pathway_current_idx starts with it: a pathway's write (its state moves at each transition) fills one index less.
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="pathways", db_index=False)
    referent_adviser = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    facilitation_organisation = models.ForeignKey(
        "roles.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name="structure porteuse",
    )
    started_on = models.DateField("début")
    exited_on = models.DateField("date de sortie", null=True, blank=True)
    closed_on = models.DateField("date de clôture", null=True, blank=True)
    # The latest reopening: what happened before it (a contract's start) happened while the pathway was exited.
    reopened_on = models.DateField("rouvert le", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "parcours"
        verbose_name_plural = "parcours"
        ordering = ["-started_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=PathwayState.values), name="pathway_state_valid"),
            models.CheckConstraint(
                condition=Q(state=PathwayState.EXITED, exited_on__isnull=False)
                | (~Q(state=PathwayState.EXITED) & Q(exited_on__isnull=True)),
                name="pathway_exit_date_iff_exited",
            ),
            models.CheckConstraint(
                condition=Q(
                    state__in=[PathwayState.WITHDRAWN, PathwayState.LOST_CONTACT, PathwayState.INELIGIBLE],
                    closed_on__isnull=False,
                )
                | (
                    ~Q(state__in=[PathwayState.WITHDRAWN, PathwayState.LOST_CONTACT, PathwayState.INELIGIBLE])
                    & Q(closed_on__isnull=True)
                ),
                name="pathway_closed_date_iff_closed",
            ),
            models.CheckConstraint(
                # A pathway withdrawn at intake never had a facilitation organisation.
                condition=Q(state__in=[PathwayState.INTAKE, PathwayState.WITHDRAWN])
                | Q(facilitation_organisation__isnull=False),
                name="pathway_facilitation_after_intake",
            ),
            models.UniqueConstraint(
                fields=["participant"],
                condition=Q(state__in=PATHWAY_OPEN_STATES),
                name="pathway_one_open_per_participant",
            ),
            # The key a referral's or a placement's (pathway, participant) refers to on PostgreSQL (migration 0037):
            # their copy of the participant, their scope for the Mission Locale, is their pathway's.
            models.UniqueConstraint(fields=["id", "participant"], name="pathway_id_participant_key"),
        ]
        indexes = [
            models.Index(fields=["state"], name="pathway_state_idx"),
            # A participant's current pathway and its state (the lists' subqueries) read on the index alone.
            models.Index(fields=["participant", "-started_on", "-id"], include=["state"], name="pathway_current_idx"),
            # A facilitation organisation's pathways in a state, the longest waiting first (eligibility to validate):
            # one index range, read with the grants alone.
            models.Index(
                fields=["facilitation_organisation", "state", "updated_at", "id"],
                include=["participant"],
                name="pathway_facilitation_wait_idx",
            ),
        ]

    def __str__(self):
        return f"Parcours #{self.pk} ({self.get_state_display()})"

    @property
    def journal_participant_id(self):
        return self.participant_id

    # What a service's own rule asks with the locked row (parcours.services.common.lock, `reads=`): how many of its
    # placements are still planned or running, and how many ended — a placement's end or cancellation, its row
    # written before the read, decides where the pathway goes next.
    # An exit's date: the latest start after it of a contract of the pathway (workflows.guards.exit_date_valid).
    GUARD_ANNOTATED = OfAParticipant.GUARD_ANNOTATED | {"placements", "contract_started_after", "open_referrals"}

    @classmethod
    def guard_annotations(cls, name: str, day: datetime.date) -> dict:
        if name == "contract_started_after":
            return {"guard_contract_started_after": Subquery(_contract_started_after(OuterRef("pk"), day)[:1])}
        if name == "open_referrals":  # a closing transition cancels them: read with the lock, most pathways have none
            rows = Referral.objects.filter(pathway_id=OuterRef("pk"), state__in=REFERRAL_OPEN_STATES)
            return {"guard_open_referrals": Exists(rows)}
        if name != "placements":
            return super().guard_annotations(name, day)

        def counted(states, *, this_period=False):
            rows = Placement.objects.filter(pathway_id=OuterRef("pk"), state__in=states).order_by()
            if this_period:
                rows = rows.filter(ended_on__gte=Coalesce(OuterRef("reopened_on"), Value(datetime.date.min)))
            return Coalesce(Subquery(rows.values("pathway_id").annotate(n=Count("pk")).values("n")), 0)

        return {
            "guard_placements_open": counted([PlacementState.PLANNED, PlacementState.ACTIVE]),
            "guard_placements_ended": counted([PlacementState.ENDED], this_period=True),
        }

    def remember_guard_read(self, name: str, day: datetime.date) -> None:
        if name == "contract_started_after":
            self._guard_reads()[("contract_started_after", day)] = self.__dict__.pop("guard_contract_started_after")
            return None
        if name == "open_referrals":
            self._guard_reads()["open_referrals"] = bool(self.__dict__.pop("guard_open_referrals"))
            return None
        if name != "placements":
            return super().remember_guard_read(name, day)
        self._guard_reads()["placements"] = (
            self.__dict__.pop("guard_placements_open"),
            self.__dict__.pop("guard_placements_ended"),
        )

    def may_have_open_referrals(self) -> bool:
        """False only when the locked read said none is open (`lock(..., reads=("open_referrals",))`)."""
        return self.__dict__.get("_read_for_guards", {}).get("open_referrals", True)

    def placements_left(self) -> tuple:
        """(planned or running, ended) placements of the pathway: read with its lock when the service asked it there,
        else now. Ended: in its current period — a contract ended before its latest reopening belongs to a period
        already closed (a contract cancelled after a reopening took the pathway back to eligible, not to follow-up)."""
        known = self.__dict__.get("_read_for_guards", {}).get("placements")
        if known is not None:
            return known
        this_period = Q(ended_on__gte=self.reopened_on) if self.reopened_on is not None else Q()
        counts = self.placements.aggregate(
            open=Count("pk", filter=Q(state__in=[PlacementState.PLANNED, PlacementState.ACTIVE])),
            ended=Count("pk", filter=Q(state=PlacementState.ENDED) & this_period),
        )
        return counts["open"], counts["ended"]

    def contract_started_after(self, day: datetime.date) -> datetime.date | None:
        """The latest start after `day` of a contract of the pathway that has started (a planned one has not), or
        None: read with the locked row when the service asked it there (`lock(..., inputs=)`), else now."""
        reads = self.__dict__.get("_read_for_guards", {})
        if ("contract_started_after", day) in reads:
            return reads[("contract_started_after", day)]
        return _contract_started_after(self.pk, day).first()

    def pending_assessment(self):
        """The latest assessment waiting for a decision, with `declares_criteria`: whether it lists any criterion
        (the guard of validate_eligibility reads both in one statement)."""
        reads = self.__dict__.get("_read_for_guards", {})
        if "pending_assessment" in reads:
            return reads["pending_assessment"]
        return _pending_assessments(self.assessments.all()).first()

    def criteria_age_bound(self) -> tuple | None:
        """(label, age) of the strictest age-bound criterion under decision, or None: those a submission declares
        (its service keeps them here, `keep_declared_criteria`), else those of the pending assessment."""
        reads = self._guard_reads()
        if "declared_age_bound" in reads:
            return reads["declared_age_bound"]
        assessment = self.pending_assessment()
        if assessment is None or assessment.age_bound is None:
            return None
        return assessment.age_bound_label, assessment.age_bound

    def keep_declared_criteria(self, criteria) -> None:
        """The criteria a submission declares, as (label, max_age) pairs, for the guard (criteria_apply)."""
        bound = min(((age, label) for label, age in criteria if age is not None), default=None)
        self._guard_reads()["declared_age_bound"] = None if bound is None else (bound[1], bound[0])

    # Guard reads of other tables a locked read brings back in its round trip (parcours.services.common.lock): their
    # statement runs after the row's wait, before the row's read, and its rows are kept for the guard.
    GUARD_READ_BESIDE = frozenset({"pending_assessment"})

    @classmethod
    def guard_read_beside(cls, name: str, pk: int) -> tuple:
        """(statement, keep) of the guard read `name` for the row `pk`: `keep(row, raw rows)` stores its answer."""
        if name != "pending_assessment":
            raise ValueError(f"{cls.__name__}: nothing to read beside the lock for guards named {name!r}")

        def keep(pathway, rows):
            found = _PENDING_ASSESSMENT.objects(rows, pk)
            pathway._guard_reads()["pending_assessment"] = found[0] if found else None

        return _PENDING_ASSESSMENT.statement(pk), keep

    @classmethod
    def read_for_guards(cls, name: str, rows: list) -> None:
        if name == "participant":  # the participants a page did not join, in one statement
            field = cls._meta.get_field("participant")
            missing = [row for row in rows if not field.is_cached(row)]
            found = Participant.objects.in_bulk({row.participant_id for row in missing})
            for row in missing:
                row.participant = found[row.participant_id]
            return None
        if name != "pending_assessment":
            return super().read_for_guards(name, rows)
        latest = {}
        for assessment in _pending_assessments(EligibilityAssessment.objects.filter(pathway__in=rows)):
            latest.setdefault(assessment.pathway_id, assessment)  # the most recent first
        for row in rows:
            row._guard_reads()["pending_assessment"] = latest.get(row.pk)


def _contract_started_after(pathway, day):
    # `started_on` is set by the contract's start only (a planned or cancelled one has none).
    started = Placement.objects.filter(pathway_id=pathway, started_on__gt=day)
    return started.order_by("-started_on").values_list("started_on", flat=True)


def _pending_assessments(assessments):
    criteria = AssessedCriterion.objects.filter(assessment=models.OuterRef("pk"))
    # Its strictest age-bound criterion (the lowest `max_age`) and that criterion's label, for the guard
    # criteria_apply: read in the same statement, not one of their own.
    bound = criteria.filter(criterion__max_age__isnull=False).order_by("criterion__max_age", "criterion__position")
    pending = assessments.filter(decision=AssessmentDecision.PENDING)
    return pending.annotate(
        declares_criteria=models.Exists(criteria),
        age_bound=Subquery(bound.values("criterion__max_age")[:1]),
        age_bound_label=Subquery(bound.values("criterion__label")[:1]),
    ).order_by("-submitted_at", "-pk")


_PENDING_ASSESSMENT = Compiled(
    lambda pk: _pending_assessments(EligibilityAssessment.objects.filter(pathway_id=pk))[:1], arguments=1
)


class Referral(ChoiceLabels, ReferralMachine, OfAParticipant):
    """A referral (positionnement) of a participant to a job offer."""

    MACHINE = "referral"
    SCOPE_PATHS = _lot_paths(
        "offer__lot", participant=(PARTICIPANT_GRANTS, "participant_id"), forwarded=(REFERRAL_GRANTS, "")
    )

    PARTICIPANT_PATH = "participant_id"

    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT, related_name="referrals")
    # Its pathway's participant, copied when the referral is written (a pathway never changes participant): the
    # Mission Locale's scope. Through the pathway, a list of a Mission Locale of 5,000 young people at 1,000,000
    # pathways probed two indexes per young person. PostgreSQL holds the copy to its pathway's (migration 0037).
    participant_id = models.BigIntegerField(editable=False)
    offer = models.ForeignKey(JobOffer, on_delete=models.PROTECT, related_name="referrals", db_index=False)
    sent_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    motivation = models.TextField("motivation", blank=True, max_length=2000)
    decision_reason = models.TextField("motif", blank=True)
    forwarded_at = models.DateTimeField("transmis le", null=True, blank=True)
    decided_at = models.DateTimeField("décidé le", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "positionnement"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ReferralState.values), name="referral_state_valid"),
            models.CheckConstraint(
                condition=Q(state__in=REFERRAL_FORWARDED_STATES, forwarded_at__isnull=False)
                | Q(
                    state__in=[
                        ReferralState.SENT,
                        ReferralState.UNDER_REVIEW,
                        ReferralState.APPROVED,
                        ReferralState.DECLINED,
                    ],
                    forwarded_at__isnull=True,
                )
                | Q(state__in=[ReferralState.CANCELLED, ReferralState.EXPIRED]),
                name="referral_forwarded_coherence",
            ),
            models.CheckConstraint(
                condition=(Q(state__in=REFERRAL_REASONED_STATES) & ~Q(decision_reason=""))
                | (~Q(state__in=REFERRAL_REASONED_STATES) & Q(decision_reason="")),
                name="referral_reason_iff_refusal",
            ),
            models.UniqueConstraint(
                fields=["pathway", "offer"],
                condition=Q(state__in=REFERRAL_OPEN_STATES),
                name="referral_one_open_per_offer",
            ),
        ]
        indexes = [
            models.Index(fields=["state"], name="referral_state_idx"),
            # lists and homes show the latest referrals first: read in index order, stop at the page size
            models.Index(fields=["-updated_at", "-id"], name="referral_recent_idx"),
            # a Mission Locale's referrals: its young people's, each one index range (and a file's)
            models.Index(fields=["participant_id", "id"], name="referral_participant_idx"),
            # a facilitator's referrals are those of its lots' offers: counted by state from this index alone
            # (70 -> 11 ms at 1,000,000 pathways); it serves the offer's foreign key too
            models.Index(fields=["offer", "state"], name="referral_offer_state_idx"),
            # a facilitator's referrals to review, latest first: the walk meets only those waiting, not the whole
            # history (15,213 referrals walked for 640 waiting at 1,000,000 pathways: 86 -> 51 ms for the page)
            models.Index(
                fields=["-updated_at", "-id"],
                name="referral_review_recent_idx",
                condition=Q(state__in=REFERRAL_REVIEW_STATES),
            ),
        ]

    def __str__(self):
        return f"Positionnement #{self.pk} ({self.get_state_display()})"

    @property
    def participant(self):
        return self.pathway.participant

    @property
    def journal_participant_id(self):
        return self.participant_id


class Placement(ChoiceLabels, PlacementMachine, OfAParticipant):
    """A placement (mise en poste): participant × employer × lot × fulfilment mode × contract."""

    MACHINE = "placement"
    SCOPE_PATHS = _lot_paths(
        "lot", participant=(PARTICIPANT_GRANTS, "participant_id"), forwarded=(PLACEMENT_GRANTS, "")
    )

    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="placement")
    PARTICIPANT_PATH = "participant_id"

    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT, related_name="placements")
    # Its pathway's participant, as a referral's (Referral.participant_id).
    participant_id = models.BigIntegerField(editable=False)
    employer = models.ForeignKey("roles.Organisation", on_delete=models.PROTECT, related_name="placements")
    lot = models.ForeignKey(ContractLot, on_delete=models.PROTECT, related_name="placements", db_index=False)
    fulfilment_mode = models.CharField("modalité", max_length=30, choices=FulfilmentMode.choices)
    contract_type = models.CharField("type de contrat", max_length=30, choices=ContractType.choices)
    start_date = models.DateField("date de début prévue")
    planned_end_date = models.DateField("date de fin prévue", null=True, blank=True)
    weekly_hours = models.DecimalField("heures par semaine", max_digits=4, decimal_places=2)
    started_on = models.DateField("commencé le", null=True, blank=True)
    ended_on = models.DateField("terminé le", null=True, blank=True)
    end_kind = models.CharField("type de fin", max_length=10, choices=PlacementEndKind.choices, blank=True)
    end_reason = models.TextField("motif de fin", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "mise en poste"
        verbose_name_plural = "mises en poste"
        ordering = ["-start_date", "-id"]
        constraints = [
            # The key an hours line's (placement, lot) refers to on PostgreSQL (migration 0028): a line's lot, its
            # scope (HoursLine.SCOPE_PATHS), is its placement's.
            models.UniqueConstraint(fields=["id", "lot"], name="placement_id_lot_key"),
            models.CheckConstraint(condition=Q(state__in=PlacementState.values), name="placement_state_valid"),
            models.CheckConstraint(
                condition=Q(state__in=[PlacementState.ACTIVE, PlacementState.ENDED], started_on__isnull=False)
                | Q(state__in=[PlacementState.PLANNED, PlacementState.CANCELLED], started_on__isnull=True),
                name="placement_started_coherence",
            ),
            models.CheckConstraint(
                condition=Q(state=PlacementState.ENDED, ended_on__isnull=False) & ~Q(end_kind="")
                | (~Q(state=PlacementState.ENDED) & Q(ended_on__isnull=True, end_kind="")),
                name="placement_ended_coherence",
            ),
            models.CheckConstraint(
                condition=Q(weekly_hours__gte=1, weekly_hours__lte=48),
                name="placement_weekly_hours_range",
                violation_error_message="La durée hebdomadaire est comprise entre 1 et 48 heures.",
            ),
            models.CheckConstraint(
                condition=Q(planned_end_date__isnull=True) | Q(planned_end_date__gte=models.F("start_date")),
                name="placement_planned_end_after_start",
            ),
        ]
        # Lists show the latest contracts first: an employer's page of 10 walks this index and checks its grants as
        # it goes, instead of joining every placement it may see before sorting (100,000 pathways: 28.7 → 1.9 ms).
        indexes = [
            models.Index(fields=["-start_date", "-id"], name="placement_recent_idx"),
            # A lot's placements by id from the index alone (it replaces the lot's own index): a facilitator's hours
            # to validate are those of its lots' placements, 27,000 at 1,000,000 pathways, read from the table
            # row by row before (48 -> 14 ms).
            models.Index(fields=["lot", "id"], name="placement_lot_id_idx"),
            # a Mission Locale's placements: its young people's, each one index range (and a file's)
            models.Index(fields=["participant_id", "id"], name="placement_participant_idx"),
        ]

    @property
    def starts_later(self) -> bool:
        """Planned with a start date still ahead: « Démarrer le contrat » is not offered yet (pages say why)."""
        return self.state == PlacementState.PLANNED and self.start_date > timezone.localdate()

    def __str__(self):
        return f"Mise en poste #{self.pk} ({self.get_state_display()})"

    @property
    def participant(self):
        return self.pathway.participant

    @property
    def journal_participant_id(self):
        return self.participant_id

    # An end date is read with the locked row: the latest month after it whose hours are declared, validated or
    # closed, and the hours of its own month (workflows.guards.end_date_valid): a contract cannot end before months
    # it has hours for, nor before the days its last month's hours were worked.
    GUARD_ANNOTATED = OfAParticipant.GUARD_ANNOTATED | {"hours_after"}

    @classmethod
    def guard_annotations(cls, name: str, day: datetime.date) -> dict:
        if name != "hours_after":
            return super().guard_annotations(name, day)
        latest = cls._hours_after(OuterRef("pk"), day).values("month")[:1]
        in_month = cls._hours_of_month(OuterRef("pk"), day).values("placement_id").annotate(total=Sum("hours"))
        return {
            "guard_hours_after": Subquery(latest, output_field=models.DateField()),
            "guard_hours_in_month": Subquery(in_month.values("total"), output_field=models.DecimalField()),
        }

    def remember_guard_read(self, name: str, day: datetime.date) -> None:
        if name != "hours_after":
            return super().remember_guard_read(name, day)
        reads = self._guard_reads()
        reads[("hours_after", day)] = self.__dict__.pop("guard_hours_after")
        reads[("hours_in_month", day)] = self.__dict__.pop("guard_hours_in_month")

    @staticmethod
    def _hours_after(placement, day):
        lines = HoursLine.objects.filter(placement_id=placement, month__gt=day).exclude(state=HoursLineState.REJECTED)
        return lines.order_by("-month")

    @staticmethod
    def _hours_of_month(placement, day):
        # The month of `day` in SQL: the locked read is compiled once, `day` an argument (roles.statements.Compiled).
        month = TruncMonth(Value(day, output_field=models.DateField()), output_field=models.DateField())
        lines = HoursLine.objects.filter(placement_id=placement, month=month)
        return lines.exclude(state=HoursLineState.REJECTED).order_by()

    def last_month_with_hours_after(self, day: datetime.date):
        """The latest month after `day` with hours not rejected (None: none), read with the lock or here."""
        reads = self.__dict__.get("_read_for_guards", {})
        if ("hours_after", day) in reads:
            return reads[("hours_after", day)]
        return self._hours_after(self.pk, day).values_list("month", flat=True).first()

    def hours_in_month_of(self, day: datetime.date):
        """The hours not rejected of the month of `day` (regular line and adjustments; 0 for none), read with the
        lock or here."""
        reads = self.__dict__.get("_read_for_guards", {})
        if ("hours_in_month", day) in reads:
            total = reads[("hours_in_month", day)]
        else:
            total = self._hours_of_month(self.pk, day).aggregate(total=Sum("hours"))["total"]
        return total or 0

    def month_capacity(self, month: datetime.date, *, end: datetime.date | None = None, today=None):
        """What the contract allows in `month` (parcours.counting.month_capacity with the settings), ending on
        `end` (its end date, or one proposed for it)."""
        return month_capacity(
            weekly_hours=self.weekly_hours,
            start=self.started_on or self.start_date,
            end=end or self.ended_on,
            month=month,
            today=today or timezone.localdate(),
            tolerance_percent=settings.PARCOURS["HOURS_TOLERANCE_PERCENT"],
            max_hours=settings.PARCOURS["MAX_MONTHLY_HOURS"],
        )


class HoursLine(ChoiceLabels, HoursLineMachine):
    """Monthly insertion hours of a placement (relevé d'heures); locked months are corrected by adjustments."""

    MACHINE = "hoursline"
    # Scoped through its own `lot` (the placement's, copied when the line is written: a placement never changes lot).
    # Through the placement, a facilitator's lines waiting for validation were found by hashing the organisation's
    # 27,000 placements against the 102,000 declared lines of every organisation (25 ms at 1,000,000 pathways); on
    # the line, they are one range of `hoursline_lot_declared_idx` per lot (2.5 ms).
    SCOPE_PATHS = _lot_paths(
        "lot",
        participant=(PARTICIPANT_GRANTS, "placement__participant_id"),
        forwarded=(PLACEMENT_GRANTS, "placement"),
    )

    placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="hours_lines")
    lot = models.ForeignKey(ContractLot, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False)
    month = models.DateField("mois")
    hours = models.DecimalField("heures", max_digits=6, decimal_places=2)
    is_adjustment = models.BooleanField("ligne de régularisation", default=False)
    declared_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField("motif de rejet", blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "relevé d'heures"
        verbose_name_plural = "relevés d'heures"
        ordering = ["-month", "-id"]
        # lists and homes show the latest months first: read in index order, stop at the page size
        indexes = [
            models.Index(fields=["-month", "-id"], name="hoursline_recent_idx"),
            # The declared lines of a placement (an employer's statements, the placement's month states).
            models.Index(fields=["placement"], name="hoursline_declared_idx", condition=Q(state="declared")),
            # A facilitator's lines in a state (the hours page's counts): index-only, per lot of the organisation.
            models.Index(fields=["lot", "state"], name="hoursline_lot_state_idx"),
            # A facilitator's lines waiting for validation, latest months first: one range per lot of the organisation.
            models.Index(
                fields=["lot", "-month", "-id"], name="hoursline_lot_declared_idx", condition=Q(state="declared")
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=HoursLineState.values), name="hoursline_state_valid"),
            models.CheckConstraint(condition=Q(month__day=1), name="hoursline_month_first_day"),
            models.CheckConstraint(
                condition=Q(is_adjustment=True) | Q(hours__gt=0), name="hoursline_positive_unless_adjustment"
            ),
            models.CheckConstraint(
                condition=Q(state__in=[HoursLineState.VALIDATED, HoursLineState.LOCKED], validated_at__isnull=False)
                | Q(state__in=[HoursLineState.DECLARED, HoursLineState.REJECTED], validated_at__isnull=True),
                name="hoursline_validated_coherence",
            ),
            models.CheckConstraint(
                condition=(Q(state=HoursLineState.REJECTED) & ~Q(rejection_reason=""))
                | (~Q(state=HoursLineState.REJECTED) & Q(rejection_reason="")),
                name="hoursline_reason_iff_rejected",
            ),
            models.CheckConstraint(
                condition=Q(state=HoursLineState.LOCKED, locked_at__isnull=False)
                | (~Q(state=HoursLineState.LOCKED) & Q(locked_at__isnull=True)),
                name="hoursline_locked_coherence",
            ),
            models.UniqueConstraint(
                fields=["placement", "month"],
                condition=Q(is_adjustment=False) & ~Q(state=HoursLineState.REJECTED),
                name="hoursline_one_regular_line_per_month",
            ),
        ]

    def __str__(self):
        return f"{self.month:%m/%Y} : {self.hours} h ({self.get_state_display()})"

    @property
    def journal_participant_id(self):
        return self.placement.participant_id


class HoursStatement(ChoiceLabels, models.Model):
    """The monthly hours statement of a lot (relevé mensuel): the awardee's declaration of a month for all its
    placements on the lot, the reminders it got, and the facilitator's closing of the month (its lines locked;
    corrections after that are adjustment lines). One row per lot and month, created by the first of these."""

    SCOPE_PATHS = _lot_paths("lot")

    lot = models.ForeignKey(ContractLot, on_delete=models.PROTECT, related_name="statements")
    month = models.DateField("mois")
    submitted_at = models.DateTimeField("déclaré le", null=True, blank=True)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    source = models.CharField("origine", max_length=10, choices=StatementSource.choices, blank=True)
    submissions = models.PositiveSmallIntegerField("envois", default=0)
    reminded_at = models.DateTimeField("relancé le", null=True, blank=True)
    reminders = models.PositiveSmallIntegerField("relances", default=0)
    closed_at = models.DateTimeField("mois clôturé le", null=True, blank=True)
    closed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        verbose_name = "relevé mensuel"
        verbose_name_plural = "relevés mensuels"
        ordering = ["-month", "lot_id"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "month"], name="statement_one_per_lot_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="statement_month_first_day"),
            models.CheckConstraint(
                condition=Q(submitted_at__isnull=True, submissions=0)
                | Q(submitted_at__isnull=False, submissions__gte=1),
                name="statement_submitted_coherence",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, closed_by__isnull=True)
                | Q(closed_at__isnull=False, closed_by__isnull=False),
                name="statement_closed_coherence",
            ),
        ]

    def __str__(self):
        return f"Relevé {self.month:%m/%Y} — {self.lot}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class FollowUp(ChoiceLabels, models.Model):
    """A follow-up contact: planned (+1, +3, +6 months after a hire) or recorded by an adviser."""

    SCOPE_PATHS = ScopePaths(participant=(PARTICIPANT_GRANTS, "pathway__participant"))
    PLANNED_OFFSETS_MONTHS = (1, 3, 6)

    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT, related_name="follow_ups")
    placement = models.ForeignKey(
        Placement, on_delete=models.PROTECT, related_name="follow_ups", null=True, blank=True
    )
    kind = models.CharField("type", max_length=20, choices=FollowUpKind.choices)
    due_on = models.DateField("prévu le", null=True, blank=True)
    done_on = models.DateField("réalisé le", null=True, blank=True)
    note = models.TextField("note factuelle", blank=True, max_length=1000)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "suivi"
        ordering = ["due_on", "done_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__isnull=False) | Q(done_on__isnull=False), name="followup_planned_or_done"
            ),
            models.CheckConstraint(
                condition=Q(done_on__isnull=True) | Q(recorded_by__isnull=False), name="followup_done_has_author"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.done_on or self.due_on})"

    @classmethod
    def planned_rank(cls, months) -> int:
        """The rank, by id, of the +`months` follow-up among its placement's: referral_hire writes one per offset, in
        the order of PLANNED_OFFSETS_MONTHS, and no other row names a placement. The rank, not the date, says which
        one it is: a corrected start date moves them (placement_change_start_date), and rows re-dated before that
        fix kept their former day. Only a cancelled contract's unrecorded ones are deleted; the recorded ones left
        then may shift, all done, which is all the work layer asks of them."""
        return cls.PLANNED_OFFSETS_MONTHS.index(months)


class Exit(ChoiceLabels, models.Model):
    """The exit (sortie) recorded when a pathway ends, and the situation six months later (the outcome the
    Mission Locale and the ESF report); a reopened pathway keeps its former exits."""

    SCOPE_PATHS = ScopePaths(participant=(PARTICIPANT_GRANTS, "pathway__participant"))
    OUTCOME_AFTER_MONTHS = 6

    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT, related_name="exits")
    exited_on = models.DateField("date de sortie")
    category = models.CharField("catégorie", max_length=30, choices=ExitCategory.choices)
    situation = models.CharField(
        "situation à la sortie", max_length=30, choices=ExitSituation.choices, blank=True, default="", db_default=""
    )
    detail = models.CharField("précision", max_length=200, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The situation six months after the exit.
    outcome_observed_on = models.DateField("situation à 6 mois constatée le", null=True, blank=True)
    outcome_situation = models.CharField(
        "situation à 6 mois", max_length=30, choices=ExitSituation.choices, blank=True, default="", db_default=""
    )
    outcome_category = models.CharField(
        "catégorie à 6 mois", max_length=30, choices=ExitCategory.choices, blank=True, default="", db_default=""
    )
    outcome_detail = models.CharField("précision (6 mois)", max_length=200, blank=True, default="", db_default="")
    outcome_recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        verbose_name = "sortie"
        ordering = ["-exited_on"]
        constraints = [
            models.CheckConstraint(condition=Q(category__in=ExitCategory.values), name="exit_category_valid"),
            models.CheckConstraint(
                condition=Q(situation="") | Q(situation__in=ExitSituation.values), name="exit_situation_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    outcome_observed_on__isnull=True,
                    outcome_situation="",
                    outcome_category="",
                    outcome_recorded_by__isnull=True,
                )
                | (
                    Q(outcome_observed_on__isnull=False, outcome_recorded_by__isnull=False)
                    & Q(outcome_situation__in=ExitSituation.values)
                    & Q(outcome_category__in=ExitCategory.values)
                ),
                name="exit_outcome_coherence",
            ),
        ]

    def __str__(self):
        return f"{self.get_category_display()} le {self.exited_on:%d/%m/%Y}"

    @property
    def outcome_due_on(self) -> datetime.date:
        return add_months(self.exited_on, self.OUTCOME_AFTER_MONTHS)


def exit_category_of(situation) -> str:
    return EXIT_SITUATION_CATEGORY[ExitSituation(situation)].value


# --- Access log ----------------------------------------------------------------------------------------------
class ParticipantAccess(ChoiceLabels, models.Model):
    """Who read which participant file, when, in which capacity (kept ACCESS_LOG_RETENTION_DAYS).

    Seen by the data-protection officer of the reader's organisation and of the Mission Locale following the file,
    and by the following Mission Locale on the file itself ("Qui a consulté ce dossier").
    """

    SCOPE_PATHS = ScopePaths(access_log=("organisation", "participant__youth_agency"))

    accessed_at = models.DateTimeField("date", default=timezone.now, db_index=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name="utilisateur")
    organisation = models.ForeignKey(
        "roles.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    role = models.CharField("rôle", max_length=20, blank=True)
    participant = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        related_name="accesses",
        db_index=False,  # access_participant_idx starts with it: each read of a file writes one index less
        verbose_name="participant·e",
    )
    channel = models.CharField("canal", max_length=10, choices=AccessChannel.choices)
    purpose = models.CharField("objet", max_length=50, default="view")

    class Meta:
        verbose_name = "consultation de dossier"
        verbose_name_plural = "consultations de dossiers"
        ordering = ["-accessed_at", "-id"]
        indexes = [models.Index(fields=["participant", "-accessed_at"], name="access_participant_idx")]

    def __str__(self):
        return f"{self.user} → participant #{self.participant_id} ({self.accessed_at:%d/%m/%Y %H:%M})"

    PURPOSE_LABELS = {
        "view": _("Consultation"),
        "list": _("Liste"),
        "export": _("Export de l'historique"),
        "committee_pack": _("Dossier de commission d'insertion (PDF)"),
        "timesheet": _("Modèle de relevé d'heures"),
        "subject_access": _("Droit d'accès"),
    }

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role in Role.values else self.role

    @property
    def purpose_label(self) -> str:
        return str(self.PURPOSE_LABELS.get(self.purpose, self.purpose))


# --- Object grants (django-guardian direct foreign keys: indexed joins, no generic object_pk casts) ----------
class ParticipantGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Participant, on_delete=models.CASCADE)


class ReferralGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Referral, on_delete=models.CASCADE)


class PlacementGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Placement, on_delete=models.CASCADE)


# --- E-mail notifications (parcours/mail.py): preferences, and the outbox the timer worker delivers ------------
class NotificationKind(models.TextChoices):
    CANDIDATE_FORWARDED = "candidate_forwarded", _("Candidature transmise à mon entreprise")
    CANDIDATE_DECIDED = "candidate_decided", _("Embauche ou refus d'un·e jeune que je suis")
    REFERRAL_WAITING = "referral_waiting", _("Positionnement en attente au-delà du délai de relance")
    STATEMENT_MISSING = "statement_missing", _("Relevé d'heures du mois manquant")


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", _("Tout de suite")
    DIGEST = "digest", _("Résumé quotidien")
    NONE = "none", _("Jamais")


class NotificationPreference(ChoiceLabels, models.Model):
    """How one person wants to hear of one kind of event (no row: immediately)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField("type", max_length=30, choices=NotificationKind.choices)
    delivery = models.CharField("envoi", max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)

    class Meta:
        verbose_name = "préférence de notification"
        verbose_name_plural = "préférences de notification"
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique"),
            models.CheckConstraint(condition=Q(kind__in=NotificationKind.values), name="notification_kind_valid"),
            models.CheckConstraint(condition=Q(delivery__in=Delivery.values), name="notification_delivery_valid"),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_kind_display()} : {self.get_delivery_display()}"


class MailNotification(ChoiceLabels, models.Model):
    """One thing to tell one person by e-mail, written in the transaction of what caused it (a transactional
    outbox). It holds ids only: the message is composed when sent, through the policy of that moment. The timer
    worker claims rows with a conditional UPDATE, so a row is sent once however many workers run."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mail_notifications")
    kind = models.CharField("type", max_length=30, choices=NotificationKind.choices)
    delivery = models.CharField("envoi", max_length=10, choices=Delivery.choices)
    # What it is about: "referral:12", "statement:<employer id>:2026-10"; one row per person, kind and key.
    key = models.CharField(max_length=80)
    # No database constraint towards the journal: it is append-only and verified on its own (verify_journal); an
    # outbox row must not stand in the way of that check. A missing event only makes the message more generic.
    event = models.ForeignKey(
        "workflows.JournalEvent",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey("roles.Organisation", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Skipped: when the message was due the person could no longer see what it was about.
    outcome = models.CharField(max_length=10, blank=True)

    class Meta:
        verbose_name = "notification par e-mail"
        verbose_name_plural = "notifications par e-mail"
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "key"], name="mail_notification_once"),
            models.CheckConstraint(
                condition=Q(delivery__in=[Delivery.IMMEDIATE, Delivery.DIGEST]), name="mail_notification_delivery"
            ),
        ]
        indexes = [
            models.Index(fields=["delivery", "created_at"], condition=Q(sent_at__isnull=True), name="mail_pending"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.user} ({self.outcome or 'en attente'})"


class EventAudience(ChoiceLabels, models.Model):
    """One team (organisation × role) that could view a journal event's object when the event was recorded: the
    event's audience, written in the event's transaction (parcours.notifications), read back by the notifications
    page from one index range per team (parcours.selectors.notifications), each candidate checked again with the
    policy of the moment. Scanning the journal for what a team may see cost a facilitator ~0.5 s at 1,000,000
    pathways: the planner hashed every object of the team's scope before it walked the latest events."""

    pk = models.CompositePrimaryKey("organisation", "role", "occurred_at", "event")
    # No foreign key constraints in the database: each row's check locked its organisation's row (FOR KEY SHARE)
    # at every commit — one row for every transition of a team — and doubled a transition's WAL. The rows are
    # written from the event and the policy's own reads in one statement; journal events are never deleted.
    organisation = models.ForeignKey(
        "roles.Organisation", on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    role = models.CharField("rôle", max_length=20, choices=Role.choices)
    occurred_at = models.DateTimeField("date")  # the event's, kept here for the team's index to be in time order
    event = models.ForeignKey(
        "workflows.JournalEvent",
        on_delete=models.CASCADE,
        related_name="audience",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        verbose_name = "destinataire d'un événement"
        verbose_name_plural = "destinataires des événements"

    def __str__(self):
        return f"{self.event_id} → {self.organisation_id} / {self.role}"


class WorkerHeartbeat(models.Model):
    """The timer worker's sign of life, one row per worker process (readiness: parcours/web/health.py); and the last
    run of each periodic job due hourly or less often, one row named `job:<name>` (parcours.worker.Job.kept), which a
    one-shot sweep from cron reads to know whether the job is due."""

    name = models.CharField("nom", max_length=200, unique=True)
    started_at = models.DateTimeField("démarré le")
    beat_at = models.DateTimeField("dernier battement", db_index=True)
    sweeps = models.PositiveIntegerField("passages", default=0)

    class Meta:
        verbose_name = "battement d'un worker"
        verbose_name_plural = "battements des workers"

    def __str__(self):
        return f"{self.name} ({self.beat_at:%Y-%m-%d %H:%M:%S})"


class PathwayTally(models.Model):
    """Pathways by state for each holder of a participant grant (group, permission): how many pathways an adviser's
    Mission Locale, a facilitator's organisation or a buyer's auditors read in each state, without counting them.

    Kept on PostgreSQL by triggers (migration 0020): each change of a pathway's state or participant, and each grant
    given or taken back, adds rows of +1/-1, so that concurrent transitions never wait for one another on a shared
    counter; reads sum a holder's rows (`parcours.selectors.tally`), the worker folds them every few minutes."""

    group_id = models.IntegerField()
    permission_id = models.IntegerField()
    state = models.CharField(max_length=50)
    n = models.IntegerField()

    class Meta:
        verbose_name = "décompte des parcours"
        verbose_name_plural = "décomptes des parcours"
        indexes = [models.Index(fields=["group_id", "permission_id", "state"], name="pathway_tally_holder_idx")]

    def __str__(self):
        return f"{self.group_id}/{self.permission_id} {self.state}: {self.n:+d}"


# The work layer's tables (viewflow processes and task routing) belong to this app too.
from parcours.work.models import OPEN_TASK_STATUSES, TaskKind, WorkProcess, WorkTask  # noqa: E402,F401
