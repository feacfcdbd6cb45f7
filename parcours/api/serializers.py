"""Input serializers (strict: unknown fields, wrong JSON types and NUL characters are 400) and output
serializers (what each role may see: employers get only what hiring needs, never the participant file)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from parcours.api.fields import (  # noqa: F401  (MAX_ID is part of this module's interface)
    MAX_ID,
    StrictBooleanField,
    StrictCharField,
    StrictDateField,
    StrictDecimalField,
    StrictEmailField,
    StrictIntegerField,
    StrictListField,
    StrictSerializer,
)
from parcours.api.inputs import input_field
from parcours.models import (
    ContractLot,
    Exit,
    FollowUp,
    HoursLine,
    JobOffer,
    Participant,
    ParticipantAccess,
    Pathway,
    Placement,
    Referral,
)
from parcours.selectors.inputs import input_options
from roles import policy
from workflows import engine
from workflows.models import JournalEvent
from workflows.transitions import WEEKLY_HOURS
from workflows.vocabulary import (
    AccessChannel,
    ContractType,
    ExitSituation,
    FollowUpKind,
    FulfilmentMode,
    Programme,
    QualificationLevel,
    Sex,
)


def _text(max_length, *, required=True, allow_blank=False, **kwargs):
    return StrictCharField(max_length=max_length, required=required, allow_blank=allow_blank, **kwargs)


def _choice(choices, **kwargs):
    return serializers.ChoiceField(choices=choices.choices, **kwargs)


# --- Inputs: creations -------------------------------------------------------------------------------------------
class ParticipantFieldsMixin(StrictSerializer):
    first_name = _text(100)
    last_name = _text(100)
    birth_date = StrictDateField()
    email = StrictEmailField(max_length=254, required=False, allow_blank=True)
    phone = _text(20, required=False, allow_blank=True)
    postcode = _text(5)
    commune = _text(100)
    is_qpv_resident = StrictBooleanField(required=False)
    qualification_level = _choice(QualificationLevel)
    programme = _choice(Programme, required=False)
    imilo_reference = _text(30, required=False, allow_blank=True)
    sex = _choice(Sex, required=False, allow_blank=True, help_text="F, M, ou vide (non renseigné).")


class ParticipantCreateSerializer(ParticipantFieldsMixin):
    allow_duplicate = StrictBooleanField(
        required=False, default=False, help_text="Inscrire malgré un homonyme né le même jour."
    )

    def to_service_kwargs(self):
        data = dict(self.validated_data)
        return {"allow_duplicate": data.pop("allow_duplicate", False), "data": data}


class ParticipantUpdateSerializer(ParticipantFieldsMixin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def to_service_kwargs(self):
        return {"changes": dict(self.validated_data)}


class ReferralCreateSerializer(StrictSerializer):
    pathway = StrictIntegerField(help_text="Identifiant du parcours.")
    offer = StrictIntegerField(help_text="Identifiant de l'offre.")
    motivation = _text(2000, required=False, allow_blank=True, default="")


class HoursDeclareSerializer(StrictSerializer):
    placement = StrictIntegerField(help_text="Identifiant de la mise en poste.")
    month = StrictDateField(help_text="Un jour quelconque du mois déclaré (ramené au 1er).")
    hours = StrictDecimalField(max_digits=6, decimal_places=2, help_text="Heures réalisées dans le mois.")
    is_adjustment = StrictBooleanField(required=False, default=False, help_text="Régularisation d'un mois clôturé.")


class StatementRowSerializer(StrictSerializer):
    placement = StrictIntegerField(help_text="Identifiant de la mise en poste (sur ce lot).")
    hours = StrictDecimalField(max_digits=6, decimal_places=2, help_text="Heures réalisées dans le mois.")
    is_adjustment = StrictBooleanField(required=False, default=False, help_text="Régularisation d'un mois clôturé.")


class StatementSubmitSerializer(StrictSerializer):
    """A lot's month, all rows at once: refused as a whole (every bad row named in `errors`) when one is bad."""

    rows = StrictListField(child=StatementRowSerializer(), max_length=2000, allow_empty=True)
    no_hours = StrictBooleanField(
        required=False,
        default=False,
        help_text="Aucune heure ce mois-ci : un relevé sans ligne n'est accepté que déclaré ainsi (et jamais avec des "
        "heures).",
    )


class StatementLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    is_adjustment = serializers.BooleanField()
    state = serializers.CharField()


class StatementPlacementSerializer(serializers.Serializer):
    placement = serializers.IntegerField(source="placement.pk")
    participant_name = serializers.CharField(source="name")
    weekly_hours = serializers.DecimalField(source="placement.weekly_hours", max_digits=4, decimal_places=2)
    maximum_hours = serializers.DecimalField(source="capacity.maximum", max_digits=6, decimal_places=2)
    total_hours = serializers.DecimalField(source="total", max_digits=7, decimal_places=2)
    lines = StatementLineSerializer(many=True)


class StatementSerializer(serializers.Serializer):
    lot = serializers.IntegerField(source="lot.pk")
    month = serializers.DateField()
    submitted_at = serializers.DateTimeField(source="statement.submitted_at", allow_null=True, default=None)
    source = serializers.CharField(source="statement.source", allow_blank=True, default="")
    closed_at = serializers.DateTimeField(source="statement.closed_at", allow_null=True, default=None)
    rows = StatementPlacementSerializer(many=True)


class NoticeGivenSerializer(StrictSerializer):
    given_on = StrictDateField(help_text="Jour où la notice d'information a été remise (ou envoyée) au ou à la jeune.")


class ReferentChangeSerializer(StrictSerializer):
    # A username, as the API names advisers everywhere (`referent_adviser`, a history's `actor.username`): it never
    # discloses user ids.
    adviser = _text(
        150,
        help_text="Identifiant de connexion (username) de la personne qui devient référente : un·e conseiller·ère en "
        "poste dans la Mission Locale du dossier.",
    )


class ExitOutcomeRecordSerializer(StrictSerializer):
    """The situation six months after the pathway's latest exit (a second call corrects it, journaled as such)."""

    observed_on = StrictDateField(help_text="Jour du constat : six mois après la sortie au plus tôt.")
    situation = _choice(ExitSituation)
    detail = _text(200, required=False, allow_blank=True, default="")


class ExitSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exit
        fields = [
            "id",
            "pathway",
            "exited_on",
            "situation",
            "category",
            "detail",
            "outcome_observed_on",
            "outcome_situation",
            "outcome_category",
            "outcome_detail",
        ]


class AccessLogFilterSerializer(StrictSerializer):
    """The DPO's filters, as on the page: reader (login or name) or file pseudonym, channel, dates (inclusive)."""

    q = _text(100, required=False, allow_blank=True, help_text="Utilisateur (identifiant ou nom) ou pseudonyme.")
    channel = _choice(AccessChannel, required=False, allow_blank=True)  # empty: every channel, as on the page
    since = StrictDateField(required=False, help_text="Depuis le (inclus).")
    until = StrictDateField(required=False, help_text="Jusqu'au (inclus).")

    def validate_q(self, value):
        # As the page's search box (parcours.web.forms.SearchField): punctuation alone searches no word.
        if value and not any(char.isalnum() for char in value):
            raise serializers.ValidationError("Saisissez au moins une lettre ou un chiffre.", code="no_word")
        return value

    def validate(self, data):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise serializers.ValidationError({"since": "La date de début suit la date de fin."})
        return data


class AccessLogEntrySerializer(serializers.ModelSerializer):
    """One read of a file: who (login, name, organisation, role), which file (its pseudonym), how and why."""

    user = serializers.CharField(source="user.username")
    user_name = serializers.SerializerMethodField()
    organisation = serializers.CharField(source="organisation.name", allow_null=True, default=None)
    participant = serializers.CharField(source="participant.pseudonym")

    class Meta:
        model = ParticipantAccess
        fields = [
            "id",
            "accessed_at",
            "user",
            "user_name",
            "organisation",
            "role",
            "participant",
            "channel",
            "purpose",
        ]

    def get_user_name(self, access) -> str:
        return access.user.get_full_name()


class FollowUpRecordSerializer(StrictSerializer):
    kind = _choice(FollowUpKind)
    done_on = StrictDateField()
    note = _text(1000, required=False, allow_blank=True, default="")
    planned_follow_up = StrictIntegerField(required=False, allow_null=True, help_text="Suivi prévu réalisé.")


class OfferCreateSerializer(StrictSerializer):
    lot = StrictIntegerField(help_text="Identifiant du lot.")
    title = _text(200)
    trade = _text(100)
    contract_type = _choice(ContractType)
    weekly_hours = input_field(WEEKLY_HOURS)  # as the hire's: "17.5" or 17.5
    location = _text(100)
    positions = StrictIntegerField(required=False, default=1, min_value=1, max_value=1000)
    is_qpv_mandatory = StrictBooleanField(required=False, default=False)
    market_context = _text(5000, required=False, allow_blank=True, default="")
    rome_code = _text(5, required=False, allow_blank=True, default="")


# --- Inputs: transitions are derived from their declarations (parcours.api.inputs) -------------------------
class EmptyInputSerializer(StrictSerializer):
    """No input: send `{}` or no body."""


# --- Outputs ------------------------------------------------------------------------------------------------------
class InputOptionSerializer(serializers.Serializer):
    value = serializers.JSONField(help_text="La valeur à envoyer (un code, ou l'identifiant d'une organisation).")
    label = serializers.CharField()


class TransitionInputOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField(help_text="text, longtext, date, decimal, choice, id_choice, choices ou proofs.")
    required = serializers.BooleanField()
    choices = serializers.ListField(child=serializers.CharField(), required=False, help_text="Valeurs admises.")
    options = InputOptionSerializer(
        many=True,
        required=False,
        help_text="Les valeurs proposées pour cet objet quand elles dépendent de lui ou du catalogue (critères "
        "d'éligibilité, structures porteuses partenaires, critères à justifier, modalités du lot) : données à "
        "l'adresse de l'objet et dans la réponse d'une transition, pas dans les listes.",
    )


def _input_out(declared, obj=None, actor=None):
    out = {"name": declared.name, "label": declared.label, "type": declared.type, "required": declared.required}
    if declared.choices is not None:
        out["choices"] = list(declared.choices.values)
    if declared.options and obj is not None:
        out["options"] = [
            {"value": value, "label": str(label)} for value, label in input_options(declared, obj=obj, actor=actor)
        ]
    return out


class AvailableTransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    inputs = TransitionInputOutSerializer(many=True)

    def to_representation(self, spec):
        return self.represent(spec)

    @staticmethod
    def represent(spec, obj=None, actor=None) -> dict:
        """With `obj`, the inputs' options for it (one object: its own address, a transition's answer)."""
        return {
            "name": spec.name,
            "label": spec.label,
            "inputs": [_input_out(i, obj, actor) for i in spec.inputs],
        }


class DisplayField(serializers.CharField):
    """A choice's label, from the model's `get_<field>_display` called directly: DRF asks `inspect.signature` of a
    callable source at every row (a page of 50 referrals: 1 ms of its 7)."""

    def __init__(self, method: str, **kwargs):
        self.method = method
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        return getattr(instance, self.method)()


class StatefulSerializer(serializers.ModelSerializer):
    """Adds `available_transitions`: what the caller may fire now (bulk-computed for lists, see views)."""

    state_label = DisplayField("get_state_display")
    available_transitions = serializers.SerializerMethodField()

    @extend_schema_field(AvailableTransitionSerializer(many=True))
    def get_available_transitions(self, obj):
        by_pk = self.context.get("transitions")
        if by_pk is not None:  # a list's page: no options (a query per row for some of them)
            # Not a list serializer per row (its fields built for each): the same dicts, written directly.
            return [AvailableTransitionSerializer.represent(spec) for spec in by_pk.get(obj.pk, [])]
        actor = self.context["actor"]
        return [
            AvailableTransitionSerializer.represent(s, obj, actor) for s in engine.available_transitions(obj, actor)
        ]


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class IdentityMaskMixin:
    """Identity fields become null for a caller who reads files without identity (a buyer's auditor without named
    access: `identity_hidden` in the context, decided by parcours.selectors.journal.pseudonymised); contact fields
    (contact details, address, sex) for every buyer's auditor, named access or not (`contact_hidden`, decided by
    parcours.selectors.journal.contact_hidden: data minimisation, an auditor never contacts the person)."""

    IDENTITY_FIELDS: tuple = ()  # null for a pseudonymised reader
    CONTACT_FIELDS: tuple = ()  # null for every buyer's auditor
    FILE_EVENT_FIELDS: tuple = ()  # the file's own events (its notice, its last edit): null for every buyer's auditor

    def get_fields(self):
        fields = super().get_fields()
        for name in (*self.IDENTITY_FIELDS, *self.CONTACT_FIELDS, *self.FILE_EVENT_FIELDS):
            if name in fields:
                fields[name].allow_null = True
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        hidden = ()
        if self.context.get("identity_hidden"):
            hidden += self.IDENTITY_FIELDS
        if self.context.get("contact_hidden") or self.context.get("identity_hidden"):
            hidden += self.CONTACT_FIELDS + self.FILE_EVENT_FIELDS
        for name in hidden:
            if name in data:
                data[name] = None
        return data


class ParticipantRefMixin(IdentityMaskMixin, serializers.ModelSerializer):
    pseudonym = serializers.CharField(read_only=True, help_text="Pseudonyme stable (P-000123).")
    IDENTITY_FIELDS = ("first_name", "last_name")
    CONTACT_FIELDS = ("email", "phone", "postcode", "commune", "sex")


class ParticipantNameSerializer(ParticipantRefMixin):
    class Meta:
        model = Participant
        fields = ["id", "pseudonym", "first_name", "last_name"]


class ParticipantContactSerializer(ParticipantRefMixin):
    """What hiring needs: name and contact details, never birth date, address or criteria."""

    class Meta:
        model = Participant
        fields = ["pseudonym", "first_name", "last_name", "email", "phone"]


class ParticipantSerializer(ParticipantRefMixin):
    youth_agency = NamedRefSerializer()
    referent_adviser = serializers.CharField(source="referent_adviser.username")
    birth_year = serializers.IntegerField(source="birth_date.year", read_only=True)
    age_band = serializers.CharField(read_only=True)
    current_state = serializers.CharField(
        read_only=True, help_text="État du parcours en cours (le dernier commencé) ; vide sans parcours."
    )
    current_state_label = DisplayField("get_current_state_display")

    anonymised_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Anonymisé le (durée de conservation écoulée) : nom, contact et i-milo effacés, date de naissance "
        "réduite à l'année (`birth_date` nul, `birth_year` gardé) ; le dossier ne se modifie plus.",
    )

    IDENTITY_FIELDS = (
        "first_name",
        "last_name",
        "birth_date",
        "imilo_reference",
        "referent_adviser",
    )
    # Another system's identifier of the person: for the Mission Locale's work, not for a buyer's controls. The
    # programme (CEJ, PACEA) is also an eligibility criterion, which a buyer's auditor never sees.
    CONTACT_FIELDS = (*ParticipantRefMixin.CONTACT_FIELDS, "imilo_reference", "programme")
    # docs/data-protection.md: an auditor gets none of the file's own events (its intake and edits, the notice, the
    # anonymisation).
    FILE_EVENT_FIELDS = ("notice_given_on", "created_at", "updated_at", "anonymised_at", "version")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.anonymised_at is not None and "birth_date" in data:
            data["birth_date"] = None  # the anonymisation kept its year alone (birth_year)
        return data

    class Meta:
        model = Participant
        fields = [
            "id",
            "pseudonym",
            "first_name",
            "last_name",
            "birth_date",
            "birth_year",
            "age_band",
            "email",
            "phone",
            "postcode",
            "commune",
            "is_qpv_resident",
            "qualification_level",
            "programme",
            "imilo_reference",
            "sex",
            "youth_agency",
            "referent_adviser",
            "current_state",
            "current_state_label",
            "notice_given_on",
            "anonymised_at",
            "created_at",
            "updated_at",
        ]


class AssessedCriterionSerializer(serializers.Serializer):
    code = serializers.CharField(source="criterion.code")
    label = serializers.CharField(source="criterion.label")
    is_health_data = serializers.BooleanField(source="criterion.is_health_data")
    proof_kind = serializers.CharField()
    proof_seen_on = serializers.DateField(allow_null=True)


class AssessmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pathway = serializers.IntegerField(source="pathway_id")
    decision = serializers.CharField()
    derogation_reason = serializers.CharField(
        source="shown_derogation_reason", help_text="Vide pour qui ne voit pas les critères (auditeur·rice)."
    )
    valid_until = serializers.DateField(allow_null=True)
    submitted_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    criteria = AssessedCriterionSerializer(
        source="visible_criteria",
        many=True,
        help_text="Au conseiller et à la structure porteuse seulement ; ceux relevant de la santé à la structure.",
    )


class PathwayRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pathway
        fields = ["id", "state", "started_on", "exited_on"]


class ParticipantDetailSerializer(ParticipantSerializer):
    pathways = serializers.SerializerMethodField()
    assessments = serializers.SerializerMethodField()
    health_data_visible = serializers.SerializerMethodField()
    version = serializers.IntegerField(
        read_only=True,
        help_text="Version des données du dossier, augmentée à chaque modification (aussi dans l'en-tête ETag) : "
        "une modification envoyée avec If-Match d'une version dépassée est refusée (412), au lieu d'effacer "
        "celle de quelqu'un d'autre. Nul pour un·e auditeur·rice.",
    )

    class Meta(ParticipantSerializer.Meta):
        fields = ParticipantSerializer.Meta.fields + ["version", "pathways", "assessments", "health_data_visible"]

    @extend_schema_field(PathwayRefSerializer(many=True))
    def get_pathways(self, obj):
        return PathwayRefSerializer(obj.pathways.order_by("-started_on", "-pk"), many=True).data

    @extend_schema_field(AssessmentSerializer(many=True))
    def get_assessments(self, obj):
        return AssessmentSerializer(self.context["assessments"][0], many=True).data

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_health_data_visible(self, obj):
        return self.context["assessments"][1]


class PathwaySerializer(IdentityMaskMixin, StatefulSerializer):
    participant = ParticipantNameSerializer()
    youth_agency = NamedRefSerializer(source="participant.youth_agency")
    referent_adviser = serializers.CharField(source="referent_adviser.username")
    IDENTITY_FIELDS = ("referent_adviser",)  # as on the participant: a pseudonymised file names no adviser
    facilitation_organisation = serializers.IntegerField(source="facilitation_organisation_id", allow_null=True)

    class Meta:
        model = Pathway
        fields = [
            "id",
            "state",
            "state_label",
            "participant",
            "youth_agency",
            "referent_adviser",
            "facilitation_organisation",
            "started_on",
            "exited_on",
            "closed_on",
            "updated_at",
            "available_transitions",
        ]


class OfferRefSerializer(serializers.ModelSerializer):
    lot = serializers.IntegerField(source="lot_id")

    class Meta:
        model = JobOffer
        fields = ["id", "title", "trade", "location", "contract_type", "weekly_hours", "lot"]


class ReferralSerializer(IdentityMaskMixin, StatefulSerializer):
    IDENTITY_FIELDS = ("motivation", "decision_reason")

    pathway = serializers.IntegerField(source="pathway_id")
    participant = ParticipantContactSerializer(source="pathway.participant")
    offer = OfferRefSerializer()
    motivation = serializers.SerializerMethodField()
    placement = serializers.SerializerMethodField()

    class Meta:
        model = Referral
        fields = [
            "id",
            "state",
            "state_label",
            "pathway",
            "participant",
            "offer",
            "motivation",
            "decision_reason",
            "forwarded_at",
            "decided_at",
            "created_at",
            "updated_at",
            "placement",
            "available_transitions",
        ]

    @extend_schema_field(
        {"type": "string", "nullable": True, "description": "Réservée à qui peut lire le dossier (pas l'employeur)."}
    )
    def get_motivation(self, obj):
        return obj.motivation if policy.may(self.context["actor"], "participant.view") else None

    @extend_schema_field({"type": "integer", "nullable": True, "description": "Mise en poste créée à l'embauche."})
    def get_placement(self, obj):
        try:
            return obj.placement.pk  # cached by select_related("placement") in the views
        except Placement.DoesNotExist:
            return None


class LotRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractLot
        fields = ["id", "number", "title"]


class PlacementSerializer(IdentityMaskMixin, StatefulSerializer):
    IDENTITY_FIELDS = ("end_reason",)

    referral = serializers.IntegerField(source="referral_id")
    pathway = serializers.IntegerField(source="pathway_id")
    participant = ParticipantContactSerializer(source="pathway.participant")
    employer = NamedRefSerializer()
    lot = LotRefSerializer()

    class Meta:
        model = Placement
        fields = [
            "id",
            "state",
            "state_label",
            "referral",
            "pathway",
            "participant",
            "employer",
            "lot",
            "fulfilment_mode",
            "contract_type",
            "start_date",
            "planned_end_date",
            "weekly_hours",
            "started_on",
            "ended_on",
            "end_kind",
            "end_reason",
            "created_at",
            "available_transitions",
        ]


class ParticipantShortNameSerializer(ParticipantRefMixin):
    class Meta:
        model = Participant
        fields = ["pseudonym", "first_name", "last_name"]


class HoursLineSerializer(IdentityMaskMixin, StatefulSerializer):
    IDENTITY_FIELDS = ("rejection_reason",)

    placement = serializers.IntegerField(source="placement_id")
    lot = serializers.IntegerField(source="lot_id", help_text="Le lot de la mise en poste.")
    participant = ParticipantShortNameSerializer(source="placement.pathway.participant")

    class Meta:
        model = HoursLine
        fields = [
            "id",
            "state",
            "state_label",
            "placement",
            "lot",
            "participant",
            "month",
            "hours",
            "is_adjustment",
            "declared_at",
            "validated_at",
            "rejection_reason",
            "locked_at",
            "available_transitions",
        ]


class JobOfferSerializer(serializers.ModelSerializer):
    lot = LotRefSerializer()

    class Meta:
        model = JobOffer
        fields = [
            "id",
            "lot",
            "title",
            "trade",
            "rome_code",
            "contract_type",
            "weekly_hours",
            "location",
            "is_qpv_mandatory",
            "positions",
            "market_context",
            "is_open",
            "closed_at",
            "created_at",
        ]


class ContractRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()


def _lot_hours(help_text):
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, allow_null=True, help_text=help_text
    )


class LotSerializer(serializers.ModelSerializer):
    contract = ContractRefSerializer()
    operation = NamedRefSerializer(source="contract.operation")
    awardee = NamedRefSerializer(allow_null=True)
    realised_hours = _lot_hours(
        "Heures validées du lot, avant les règles de comptage (null pour un·e conseiller·e : les heures ne la ou le "
        "concernent pas)."
    )
    counted_hours = _lot_hours(
        "Heures comptées par les règles de comptage du lot : le « réalisé » de ses pages, bilans et tableau de bord "
        "(null hors des lots dont vous suivez les bilans)."
    )
    counted_pct = serializers.DecimalField(
        max_digits=7,
        decimal_places=1,
        coerce_to_string=False,
        read_only=True,
        allow_null=True,
        help_text="Heures comptées, en pourcentage de l'objectif, au dixième (la moitié arrondie au-dessus) : le "
        "taux de réalisation des pages et des bilans.",
    )
    counting_rules_label = serializers.CharField(
        read_only=True, help_text="La version des règles de comptage qui a compté ces heures (vide si null)."
    )
    fulfilment_modes = serializers.ListField(child=serializers.ChoiceField(choices=FulfilmentMode.choices))

    class Meta:
        model = ContractLot
        fields = [
            "id",
            "contract",
            "operation",
            "number",
            "title",
            "trade",
            "amount_excl_tax",
            "sizing_method",
            "target_hours",
            "realised_hours",
            "counted_hours",
            "counted_pct",
            "counting_rules_label",
            "fulfilment_modes",
            "execution_starts_on",
            "execution_ends_on",
            "awardee",
        ]


class OrganisationSerializer(serializers.Serializer):
    """One of the caller's organisations (from an active membership)."""

    id = serializers.IntegerField(source="organisation.id")
    name = serializers.CharField(source="organisation.name")
    kind = serializers.CharField(source="organisation.kind")
    territory = serializers.CharField(source="organisation.territory")
    role = serializers.CharField()
    is_current = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_is_current(self, membership):
        return membership.organisation_id == self.context["actor"].organisation_id


class FollowUpSerializer(IdentityMaskMixin, serializers.ModelSerializer):
    placement = serializers.IntegerField(source="placement_id", allow_null=True)
    recorded_by = serializers.CharField(source="recorded_by.username", allow_null=True, default=None)
    IDENTITY_FIELDS = ("note", "recorded_by")  # free text about the person, and the adviser's name

    class Meta:
        model = FollowUp
        fields = ["id", "kind", "due_on", "done_on", "note", "placement", "recorded_by", "created_at"]


class EventActorSerializer(serializers.Serializer):
    username = serializers.CharField(
        allow_null=True,
        help_text="Identifiant de la personne qui a agi ; null pour le système, et pour un dossier pseudonymisé (le "
        "nom des professionnel·les n'est pas communiqué : leur organisation et leur rôle le sont).",
    )
    role = serializers.CharField()
    organisation = serializers.IntegerField(allow_null=True)


class JournalEventSerializer(serializers.ModelSerializer):
    """A journal event as the caller may see it (parcours.selectors.journal.present_events)."""

    actor = serializers.SerializerMethodField()
    reason = serializers.CharField(source="shown_reason")
    reason_withheld = serializers.BooleanField(
        help_text="Un motif a été saisi mais n'est pas communiqué à votre rôle (dossier pseudonymisé)."
    )
    reason_erased = serializers.BooleanField(help_text="Le motif a été effacé avec les données du ou de la jeune.")
    inputs = serializers.SerializerMethodField()
    action_label = serializers.CharField()

    class Meta:
        model = JournalEvent
        fields = [
            "id",
            "sequence",
            "occurred_at",
            "actor",
            "object_type",
            "object_id",
            "action",
            "action_label",
            "from_state",
            "to_state",
            "reason",
            "reason_withheld",
            "reason_erased",
            "inputs",
        ]

    @extend_schema_field(EventActorSerializer)
    def get_actor(self, event):
        user = event.actor_user
        return {
            "username": user.get_username() if user is not None and event.actor_name else None,
            "role": event.actor_role,
            "organisation": None if getattr(event, "organisation_withheld", False) else event.actor_organisation_id,
        }

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": True,
            "description": "Identifiants et codes ; les critères d'éligibilité relevant de la santé ne sont donnés "
            "qu'aux rôles qui peuvent les voir, comme leur nombre (`criteria_count`).",
        }
    )
    def get_inputs(self, event):
        return event.shown_inputs


class TokenRequestSerializer(StrictSerializer):
    username = _text(150)
    password = StrictCharField(max_length=128, trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(help_text="Date d'expiration du jeton (API_TOKEN_TTL après sa délivrance).")
