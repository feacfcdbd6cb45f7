"""API views: parse (serializers), read through the selectors, write through the services, answer.

No business rule lives here: scope, permissions, states and guards are the services' and the policy's.
A role that may never take an action gets 403; an object outside the caller's scope is 404.
"""

import re

from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import translation
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotAcceptable
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.serializers import MultipleChoiceField
from rest_framework.views import APIView

from parcours import selectors
from parcours.access_log import log_access, log_participant_access
from parcours.api import resources as r
from parcours.api import serializers as s
from parcours.api.auth import TokenAuthentication, check_credentials, resolve_actor
from parcours.api.errors import PROBLEM_CONTENT_TYPE, ApiProblem
from parcours.api.inputs import input_serializer
from parcours.api.pagination import EventCursorPagination, IdCursorPagination, SequenceCursorPagination
from parcours.api.throttling import TokenObtainRateThrottle
from parcours.dates import latest_month, month_from_text
from parcours.services import (
    data_protection,
    followups,
    participants,
    pathways,
    placements,
    referrals,
    register,
    statements,
)
from parcours.services.registry import run_transition
from roles import policy
from roles.middleware import memberships_of
from roles.tokens import expires_at, issue_token, revoke_tokens
from workflows.engine import available_for_rows, ensure_can_fire
from workflows.errors import DomainError
from workflows.inputs import EARLIEST_DATE
from workflows.vocabulary import AccessChannel, StatementSource


class JsonNegotiation(DefaultContentNegotiation):
    """`?format=xml` is a format we do not serve, as `Accept: application/xml` is: 406 (DRF answered 404).
    `Accept: application/problem+json` is read as JSON: a client that takes our problems takes our JSON (it got 406,
    even where the answer was a 404 problem)."""

    def filter_renderers(self, renderers, format):
        try:
            return super().filter_renderers(renderers, format)
        except Http404:
            raise NotAcceptable(available_renderers=renderers) from None

    def get_accept_list(self, request):
        accepts = []
        for token in super().get_accept_list(request):
            media_type, sep, params = token.partition(";")
            if media_type.strip().lower() == PROBLEM_CONTENT_TYPE:
                token = "application/json" + sep + params
            accepts.append(token)
        return accepts


class FrenchMixin:
    # API messages (ours and DRF's) are in French whatever the Accept-Language.
    content_negotiation_class = JsonNegotiation

    def dispatch(self, request, *args, **kwargs):
        with translation.override("fr"):
            return super().dispatch(request, *args, **kwargs)


def query_data(query_params, serializer_class) -> dict:
    """A list's filters as `serializer_class` reads them. A filter that takes one value given twice is a 400: the
    last value silently won (`?is_open=true&is_open=false`)."""
    data = {}
    for name, field in serializer_class().fields.items():
        if name not in query_params:
            continue
        values = query_params.getlist(name)
        if isinstance(field, MultipleChoiceField):
            data[name] = values
        elif len(values) > 1:
            raise ApiProblem(
                status.HTTP_400_BAD_REQUEST,
                "invalid_input",
                _("Le paramètre « %(name)s » ne prend qu'une valeur.") % {"name": name},
                field=name,
            )
        else:
            data[name] = values[0]
    return data


def refuse_unknown_parameters(query_params, known, *, not_offered=()) -> None:
    """400 for a query parameter the list does not read: a misspelt filter (`?status=` for `?state=`, `?q=` where
    no search is offered) answered the whole list as if it were filtered. Checked before any row is read. The
    message lists the accepted ones but those `not_offered` to the caller (refused with their own message)."""
    unknown = sorted(name for name in query_params if name not in known)
    if unknown:
        raise ApiProblem(
            status.HTTP_400_BAD_REQUEST,
            "invalid_input",
            _("Paramètre inconnu : « %(names)s ». Paramètres acceptés : %(known)s.")
            % {"names": "», «".join(unknown), "known": ", ".join(sorted(set(known) - set(not_offered)))},
            field=unknown[0],
        )


class ApiMetadata(SimpleMetadata):
    """OPTIONS: name, description and formats; the inputs are documented in the OpenAPI schema."""

    def determine_metadata(self, request, view):
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        return metadata

    def determine_actions(self, request, view):
        return {}


class ApiView(FrenchMixin, GenericAPIView):
    resource: r.Resource | None = None
    pagination_class = IdCursorPagination
    metadata_class = ApiMetadata
    actor = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.actor = resolve_actor(request)

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "actor": self.actor,
            "identity_hidden": self.actor is not None and selectors.pseudonymised(self.actor),
            "contact_hidden": self.actor is not None and selectors.contact_hidden(self.actor),
        }

    def require_role(self, action, message=None):
        """403 when the caller's role may never take `action` (whatever the object)."""
        if not policy.may(self.actor, action):
            message = message or _("Votre rôle ne permet pas d'accéder à cette ressource.")
            raise ApiProblem(status.HTTP_403_FORBIDDEN, "forbidden", message)

    def require(self, action, obj, message=None):
        """403 when the caller may not take `action` on `obj` (that they can see): checked before the body is read,
        so that a refusal never depends on what was sent."""
        if not policy.allows(self.actor, action, obj):
            message = message or _("Votre rôle ne permet pas de faire cette action.")
            raise ApiProblem(status.HTTP_403_FORBIDDEN, "forbidden", message)

    # The serializer of a list's filters (its query parameters besides the pagination's), None for none.
    query_filters = None

    def paginate_queryset(self, queryset):
        """A page of a list, once its query parameters are known ones (the filters, the pagination's, `format`)."""
        paginator = self.paginator
        known = {"format"}
        if paginator is not None:
            known |= {paginator.cursor_query_param, paginator.page_size_query_param}
        if self.query_filters is not None:
            known |= set(self.query_filters().fields)
        refuse_unknown_parameters(self.request.query_params, known, not_offered=self.filters_not_offered())
        return super().paginate_queryset(queryset)

    def filters_not_offered(self):
        """The filters of the list this caller may not use (a buyer's auditor: the intake dates)."""
        resource = getattr(self, "resource", None)
        refused = getattr(resource, "auditor_refused_filters", ())
        return refused if refused and self.actor is not None and selectors.contact_hidden(self.actor) else ()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.resource.model.objects.none()
        self.require_role(self.resource.view_action)
        return self.resource.queryset(self.actor)

    def not_found(self):
        return DomainError("not_found", self.resource.not_found_message)

    def get_object(self):
        pk = self.kwargs["pk"]
        obj = self.get_queryset().filter(pk=pk).first() if 0 < pk <= r.MAX_ID else None
        if obj is None:
            raise self.not_found()
        return obj

    def parse(self, serializer_class, **kwargs):
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer

    def shown(self, rows) -> list:
        """`rows` with what their serializer shows beyond their columns (`Resource.shown_with`), read at once."""
        shown_with = self.resource.shown_with if self.resource is not None else None
        return shown_with(self.actor, rows) if shown_with is not None else rows

    def represent(self, obj, serializer_class=None, **context):
        serializer_class = serializer_class or self.resource.serializer
        return serializer_class(obj, context={**self.get_serializer_context(), **context}).data

    def represent_fresh(self, pk):
        """The object after a write, read again through the selector (or directly if the write took it out of
        the caller's scope, e.g. an employer refusing a candidate loses sight of the referral). The answer names
        the young person it concerns (a referral's contact…) as a read does: its file read is logged."""
        obj = self.resource.queryset(self.actor).filter(pk=pk).first()
        if obj is None:
            obj = self.resource.model.objects.get(pk=pk)
        log_file_read(self.actor, self.resource, obj)
        return self.represent(self.shown([obj])[0])


# --- Generic resource views ----------------------------------------------------------------------------------
class ResourceListView(ApiView):
    @property
    def query_filters(self):
        return self.resource.filters

    def filtered_queryset(self):
        queryset = self.get_queryset()  # 403 first for a role that may not read this resource
        filters = self.resource.filters(data=query_data(self.request.query_params, self.resource.filters))
        filters.is_valid(raise_exception=True)
        refused = [name for name in self.filters_not_offered() if name in self.request.query_params]
        if refused:
            raise ApiProblem(
                status.HTTP_400_BAD_REQUEST,
                "invalid_input",
                _("Filtre non proposé à votre rôle : « %(name)s » (la date d'inscription ne vous est pas transmise).")
                % {"name": refused[0]},
                field=refused[0],
            )
        return self.resource.filter(queryset, filters.validated_data)

    def get(self, request, *args, **kwargs):
        page = self.shown(self.paginate_queryset(self.filtered_queryset()))
        if self.resource.participant_path:  # rows naming young people (a referral's contact…): each file read, listed
            log_list_access(self.actor, [self.resource.participant_id(obj) for obj in page])
        context = self.get_serializer_context()
        if self.resource.machine:
            context["transitions"] = available_for_rows(page, self.actor, view_action=self.resource.view_action)
        data = self.resource.serializer(page, many=True, context=context).data
        return self.get_paginated_response(data)


def log_file_read(actor, resource, obj):
    """One access-log row for the participant whose file `obj` shows (a pathway, a referral with its contact…)."""
    participant_id = resource.participant_id(obj)
    if participant_id is not None:
        log_participant_access(actor=actor, participant_id=participant_id, channel=AccessChannel.API)


class ResourceDetailView(ApiView):
    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        log_file_read(self.actor, self.resource, obj)
        return Response(self.represent(self.shown([obj])[0]))


class ResourceHistoryView(ApiView):
    """The journal of one object, through the derived-view rule (parcours.selectors.journal): only the events the
    caller may see, their inputs and reasons filtered by sensitivity."""

    pagination_class = SequenceCursorPagination

    def events(self, object_id):
        return selectors.object_events(self.actor, self.resource.journal_type, object_id)

    def respond(self, events, *, participant_id=None):
        """A page of `events`; the read of the file of `participant_id` (the young person they are about) is logged
        once the page is chosen: a bad cursor or page size is a 400 that writes nothing."""
        rows = self.paginate_queryset(events)
        if participant_id is not None:
            log_participant_access(actor=self.actor, participant_id=participant_id, channel=AccessChannel.API)
        page = selectors.present_events(self.actor, rows)
        return self.get_paginated_response(s.JournalEventSerializer(page, many=True).data)

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.respond(self.events(obj.pk), participant_id=self.resource.participant_id(obj))


class TransitionView(ApiView):
    spec = None

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        # Role (403), state (409), scope (403 or 404), then the inputs (400): the engine's order, before the body is
        # read (workflows.engine.ensure_can_fire).
        ensure_can_fire(obj, self.spec.name, actor=self.actor)
        inputs = self.parse(input_serializer(self.spec))
        run_transition(
            machine=self.spec.machine, name=self.spec.name, obj=obj.pk, actor=self.actor, **inputs.to_service_kwargs()
        )
        return Response(self.represent_fresh(obj.pk))


# --- Schema helpers ------------------------------------------------------------------------------------------
def _tag(resource):
    return [resource.path]


def list_schema(resource, summary):
    return extend_schema(
        summary=summary,
        tags=_tag(resource),
        parameters=[resource.filters],
        responses=resource.serializer(many=True),
    )


def detail_schema(resource, summary, serializer=None):
    return extend_schema(summary=summary, tags=_tag(resource), responses=serializer or resource.serializer)


def history_schema(resource):
    return extend_schema(
        summary="Historique (journal d'audit) de l'objet",
        tags=_tag(resource),
        responses=s.JournalEventSerializer(many=True),
    )


def build(base, resource, name, **schemas):
    view = type(name, (base,), {"resource": resource, "__module__": __name__, "__doc__": ""})
    return extend_schema_view(**schemas)(view)


def transition_view(resource, spec):
    """The POST view of one declared transition: its input serializer and documentation derive from the spec."""
    inputs = ", ".join(f"{i.name}{'' if i.required else ' (optionnel)'}" for i in spec.inputs) or "aucune"
    camel = "".join(part.title() for part in spec.name.split("_"))
    view = type(
        f"{resource.model.__name__}{camel}TransitionView",
        (TransitionView,),
        {"resource": resource, "spec": spec, "__module__": __name__, "__doc__": ""},
    )
    roles = ", ".join(str(role.label) for role in spec.roles) or "aucun"
    description = (
        f"{spec.description} Depuis : {', '.join(spec.sources)} → {', '.join(spec.targets)}. "
        f"Rôles : {roles}. Données : {inputs}."
    ).strip()
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"{resource.path.replace('-', '_')}_{spec.name}",
            summary=spec.label,
            description=description,
            tags=_tag(resource),
            request=input_serializer(spec),
            responses=resource.serializer,
        )
    )(view)


# --- Authentication ------------------------------------------------------------------------------------------
class TokenObtainView(FrenchMixin, APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenObtainRateThrottle]

    @extend_schema(
        summary="Obtenir un jeton d'API",
        description="Le jeton s'utilise dans l'en-tête `Authorization: Token <jeton>`.",
        tags=["auth"],
        request=s.TokenRequestSerializer,
        responses={200: s.TokenResponseSerializer},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = s.TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = check_credentials(request, **serializer.validated_data)
        token = issue_token(user)
        return Response(s.TokenResponseSerializer({"token": token.key, "expires_at": expires_at(token)}).data)


class TokenRevokeView(FrenchMixin, APIView):
    """Revoke the token that authenticates this request (rotation: revoke, then ask for a new one)."""

    authentication_classes = [TokenAuthentication]
    # Never throttled: a token that ran out of requests (leaked, or a runaway script) must still be revocable.
    throttle_classes = []

    @extend_schema(
        summary="Révoquer mon jeton d'API",
        description="Le jeton de l'en-tête `Authorization` cesse aussitôt d'être accepté. Pour changer de jeton : "
        "révoquez-le, puis demandez-en un nouveau (`POST /api/v1/auth/token/`).",
        tags=["auth"],
        request=s.EmptyInputSerializer,
        responses={204: None},
    )
    def post(self, request, *args, **kwargs):
        s.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        revoke_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Organisations (the caller's own) ------------------------------------------------------------------------
class OrganisationViewMixin:
    def memberships(self):
        return memberships_of(self.request.user)


@extend_schema_view(
    get=extend_schema(
        summary="Mes organisations", tags=["organisations"], responses=s.OrganisationSerializer(many=True)
    )
)
class OrganisationListView(OrganisationViewMixin, ApiView):
    pagination_class = None

    def get(self, request, *args, **kwargs):
        refuse_unknown_parameters(request.query_params, {"format"})  # no filter, no page: `?page_size=` was ignored
        return Response(s.OrganisationSerializer(self.memberships(), many=True, context={"actor": self.actor}).data)


@extend_schema_view(
    get=extend_schema(summary="Une de mes organisations", tags=["organisations"], responses=s.OrganisationSerializer)
)
class OrganisationDetailView(OrganisationViewMixin, ApiView):
    def get(self, request, *args, **kwargs):
        pk = self.kwargs["pk"]
        membership = self.memberships().filter(organisation_id=pk).first() if 0 < pk <= r.MAX_ID else None
        if membership is None:
            raise DomainError("not_found", _("Organisation introuvable."))
        return Response(s.OrganisationSerializer(membership, context={"actor": self.actor}).data)


# --- Participants ------------------------------------------------------------------------------------------
def log_list_access(actor, participant_ids):
    """Participants read in a list: one access-log row each, written in one query."""
    log_access(actor=actor, participant_ids=participant_ids, channel=AccessChannel.API, purpose="list")


class ParticipantFileMixin:
    # A participant read goes through selectors.participant_file: scope check and access log (channel API).

    resource = r.PARTICIPANTS

    def participant_file(self, *, log=True):
        self.require_role("participant.view")
        pk = self.kwargs["pk"]
        if not 0 < pk <= r.MAX_ID:
            raise self.not_found()
        return selectors.participant_file(actor=self.actor, participant_id=pk, channel=AccessChannel.API, log=log)

    def represent_file(self, participant):
        assessments = selectors.participant_assessments(actor=self.actor, participant=participant)
        return self.represent(participant, s.ParticipantDetailSerializer, assessments=assessments)

    def file_response(self, participant, **kwargs) -> Response:
        """The file, with its data's version as a strong ETag (for If-Match) when the reader may see it."""
        data = self.represent_file(participant)
        response = Response(data, **kwargs)
        if data.get("version") is not None:
            response["ETag"] = version_etag(data["version"])
        return response


def version_etag(version: int) -> str:
    return f'"v{version}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 §13.1.2): `W/"v3"` matches `"v3"`; `*` matches any."""
    if not header:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or etag in {tag.removeprefix("W/") for tag in tags}


def expected_version(request, current: int) -> int | None:
    """The version an If-Match header asks for: None without one (or `*`: the file exists), else the listed version
    equal to `current` if there is one (the service checks it again under the row lock), else the latest one listed
    (the refusal names what changed since it), else 0 (never a version: a weak tag never matches, RFC 9110 §13.1.1,
    strong comparison; nor does an unreadable one)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    versions = {int(tag[2:-1]) for tag in tags if re.fullmatch(r'"v[0-9]{1,9}"', tag)}
    if current in versions:
        return current
    return max(versions, default=0)


@extend_schema_view(
    get=list_schema(r.PARTICIPANTS, "Participant·es (dossiers lisibles)"),
    post=extend_schema(
        summary="Inscrire un·e jeune (accueil)",
        tags=_tag(r.PARTICIPANTS),
        request=s.ParticipantCreateSerializer,
        responses={201: s.ParticipantDetailSerializer},
    ),
)
class ParticipantListView(ParticipantFileMixin, ResourceListView):
    @transaction.atomic
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filtered_queryset())
        log_list_access(self.actor, [p.pk for p in page])
        data = s.ParticipantSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def post(self, request, *args, **kwargs):
        self.require_role("participant.create", _("Seul·e un·e conseiller·ère peut inscrire un·e jeune."))
        inputs = self.parse(s.ParticipantCreateSerializer)
        participant = participants.participant_create(actor=self.actor, **inputs.to_service_kwargs())
        participant = selectors.participant_file(
            actor=self.actor, participant_id=participant.pk, channel=AccessChannel.API
        )
        return self.file_response(
            participant,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:participants-detail", kwargs={"pk": participant.pk})},
        )


@extend_schema_view(
    get=extend_schema(
        summary="Dossier d'un·e participant·e (consultation journalisée)",
        tags=_tag(r.PARTICIPANTS),
        responses=s.ParticipantDetailSerializer,
    ),
    patch=extend_schema(
        summary="Modifier le dossier",
        tags=_tag(r.PARTICIPANTS),
        request=s.ParticipantUpdateSerializer,
        responses=s.ParticipantDetailSerializer,
    ),
)
class ParticipantDetailView(ParticipantFileMixin, ApiView):
    def get(self, request, *args, **kwargs):
        response = self.file_response(self.participant_file())
        etag = response.get("ETag")
        if etag is not None and etag_matches(request.headers.get("If-None-Match"), etag):
            # The client's copy is current (a sync asking again): 304, no body. The read is logged all the same.
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return response

    def patch(self, request, *args, **kwargs):
        # Scope and permission first, unlogged: a refused edit writes nothing, not even an access row; the file
        # returned after the update is read again, and that read is logged.
        participant = self.participant_file(log=False)
        self.require("participant.update", participant, _("Vous ne pouvez pas modifier ce dossier."))
        inputs = self.parse(s.ParticipantUpdateSerializer)
        participants.participant_update(
            actor=self.actor,
            participant=participant.pk,
            expected_version=expected_version(request, participant.version),
            **inputs.to_service_kwargs(),
        )
        return self.file_response(self.participant_file())


@extend_schema_view(
    post=extend_schema(
        summary="Enregistrer la remise de la notice d'information",
        tags=_tag(r.PARTICIPANTS),
        request=s.NoticeGivenSerializer,
        responses=s.ParticipantDetailSerializer,
    )
)
class ParticipantNoticeView(ParticipantFileMixin, ApiView):
    def post(self, request, *args, **kwargs):
        message = _("Vous ne pouvez pas modifier ce dossier.")
        self.require_role("participant.record_notice", message)
        participant = self.participant_file(log=False)  # a refusal writes nothing, not even an access row
        self.require("participant.record_notice", participant, message)
        inputs = self.parse(s.NoticeGivenSerializer)
        data_protection.participant_record_notice(
            actor=self.actor, participant=participant.pk, given_on=inputs.validated_data["given_on"]
        )
        return self.file_response(self.participant_file())


@extend_schema_view(
    post=extend_schema(
        summary="Changer de référent·e",
        description='Le ou la nouvelle référent·e, nommé·e par son identifiant de connexion (`{"adviser": '
        '"conseillere"}`), est un·e conseiller·ère en poste dans la Mission Locale du dossier (sinon 400 '
        "`invalid_referent`, sur le champ `adviser`, la même réponse pour un identifiant inconnu) ; refusé sur un "
        "dossier anonymisé (409). Réservé à la Mission Locale qui suit le ou la jeune ; inscrit dans l'historique du "
        "dossier (`change_referent`). Rien n'est écrit quand la personne est déjà référente. La réponse est le "
        "dossier.",
        tags=_tag(r.PARTICIPANTS),
        request=s.ReferentChangeSerializer,
        responses=s.ParticipantDetailSerializer,
    )
)
class ParticipantReferentView(ParticipantFileMixin, ApiView):
    def post(self, request, *args, **kwargs):
        message = str(participants.CHANGE_REFERENT_FORBIDDEN)
        self.require_role("participant.change_referent", message)
        participant = self.participant_file(log=False)  # a refusal writes nothing, not even an access row
        self.require("participant.change_referent", participant, message)
        inputs = self.parse(s.ReferentChangeSerializer)
        # Looked up among the file's Mission Locale's active advisers only: anyone else goes as None, refused by the
        # service with one answer (no way to tell which usernames exist, nor where).
        adviser = selectors.referent_named(participant.youth_agency_id, inputs.validated_data["adviser"])
        participants.participant_change_referent(actor=self.actor, participant=participant.pk, adviser=adviser)
        return self.file_response(self.participant_file())


@extend_schema_view(get=history_schema(r.PARTICIPANTS))
class ParticipantHistoryView(ParticipantFileMixin, ResourceHistoryView):
    # Events of several objects: in the order they happened (an object's `sequence` numbers its own events only).
    pagination_class = EventCursorPagination

    def get(self, request, *args, **kwargs):
        participant = self.participant_file(log=False)
        return self.respond(selectors.participant_events(self.actor, participant.pk), participant_id=participant.pk)


def _section(kind, description):
    items = {"type": "object", "additionalProperties": True}
    schema = items if kind == "object" else {"type": "array", "items": items}
    return {**schema, "description": description}


# The export's sections (parcours.selectors.data_protection.subject_access_data), their rows' columns as recorded.
SUBJECT_ACCESS_SCHEMA = {
    "type": "object",
    "properties": {
        "document": _section("object", "L'export lui-même : sa date, son objet."),
        "identite": _section("object", "Le dossier : identité, contact, situation."),
        "eligibilite": _section("array", "Les demandes d'éligibilité, avec leurs critères et justificatifs."),
        "parcours": _section("array", "Les parcours."),
        "positionnements": _section("array", "Les positionnements sur des offres."),
        "mises_en_poste": _section("array", "Les mises en poste."),
        "heures": _section("array", "Les relevés d'heures."),
        "suivis": _section("array", "Les suivis."),
        "sorties": _section("array", "Les sorties et leur situation à six mois."),
        "historique": _section("array", "Le journal des actions sur le dossier."),
        "consultations": _section("array", "Les consultations du dossier."),
    },
    "required": [
        "document",
        "identite",
        "eligibilite",
        "parcours",
        "positionnements",
        "mises_en_poste",
        "heures",
        "suivis",
        "sorties",
        "historique",
        "consultations",
    ],
}


@extend_schema_view(
    get=extend_schema(
        summary="Droit d'accès : toutes les données du ou de la jeune (journalisé)",
        description="Réservé à la Mission Locale qui suit le ou la jeune. Chaque export est inscrit dans le journal "
        "et dans la liste des consultations du dossier.",
        tags=_tag(r.PARTICIPANTS),
        responses={200: SUBJECT_ACCESS_SCHEMA},
    )
)
class ParticipantSubjectAccessView(ApiView):
    resource = r.PARTICIPANTS

    def get(self, request, *args, **kwargs):
        self.require_role("participant.export_subject_data")
        pk = self.kwargs["pk"]
        if not 0 < pk <= r.MAX_ID:
            raise self.not_found()
        try:
            participant = data_protection.participant_subject_access(actor=self.actor, participant=pk)
        except DomainError as error:
            if error.code == "forbidden":
                raise self.not_found() from None
            raise
        return Response(selectors.subject_access_data(participant))


# --- Pathways: follow-ups ------------------------------------------------------------------------------------
@extend_schema_view(
    get=extend_schema(summary="Suivis du parcours", tags=_tag(r.PATHWAYS), responses=s.FollowUpSerializer(many=True)),
    post=extend_schema(
        summary="Enregistrer un suivi (ou réaliser un suivi prévu)",
        tags=_tag(r.PATHWAYS),
        request=s.FollowUpRecordSerializer,
        responses={201: s.FollowUpSerializer, 200: s.FollowUpSerializer},
    ),
)
class PathwayFollowUpsView(ApiView):
    resource = r.PATHWAYS

    def get(self, request, *args, **kwargs):
        pathway = self.get_object()
        page = self.paginate_queryset(selectors.follow_ups_of_pathway(pathway=pathway))
        log_file_read(self.actor, self.resource, pathway)  # once the page is chosen: a bad cursor writes nothing
        # Notes and who wrote them are free text about the person: not for a pseudonymised reader.
        return self.get_paginated_response(
            s.FollowUpSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    def post(self, request, *args, **kwargs):
        pathway = self.get_object()
        self.require("followup.record", pathway, _("Vous ne pouvez pas enregistrer de suivi pour ce parcours."))
        inputs = self.parse(s.FollowUpRecordSerializer)
        follow_up = followups.followup_record(actor=self.actor, pathway=pathway.pk, **inputs.to_service_kwargs())
        log_file_read(self.actor, self.resource, pathway)  # the answer holds the follow-up's notes, as the list
        # A planned follow-up completed is that row, changed (200); a follow-up recorded is a new row (201).
        completed = inputs.validated_data.get("planned_follow_up") is not None
        return Response(
            s.FollowUpSerializer(follow_up).data, status=status.HTTP_200_OK if completed else status.HTTP_201_CREATED
        )


@extend_schema_view(
    post=extend_schema(
        summary="Situation à 6 mois de la dernière sortie du parcours (une seconde fois : la corrige)",
        tags=_tag(r.PATHWAYS),
        request=s.ExitOutcomeRecordSerializer,
        responses=s.ExitSerializer,
    )
)
class PathwayExitOutcomeView(ApiView):
    resource = r.PATHWAYS

    def post(self, request, *args, **kwargs):
        message = _("Seule la Mission Locale qui suit le ou la jeune renseigne sa situation.")
        self.require_role("exit.record_outcome", message)  # a role that never may: 403 before anything is read
        pathway = self.get_object()
        exit = selectors.latest_exit_of(pathway)
        if exit is None:
            raise DomainError("invalid_transition", _("Ce parcours n'a pas de sortie enregistrée."))
        self.require("exit.record_outcome", exit, message)
        inputs = self.parse(s.ExitOutcomeRecordSerializer)
        exit = pathways.exit_record_outcome(actor=self.actor, exit=exit, **inputs.validated_data)
        log_file_read(self.actor, self.resource, pathway)  # the answer holds the exit's free-text detail
        return Response(s.ExitSerializer(exit).data)


@extend_schema_view(
    get=extend_schema(
        summary="Consultations des dossiers (délégué·e à la protection des données)",
        description="Les lectures faites par les membres de l'organisation et celles des dossiers qu'elle suit, les "
        "plus récentes d'abord ; mêmes filtres que la page.",
        tags=["Protection des données"],
        parameters=[s.AccessLogFilterSerializer],
        responses=s.AccessLogEntrySerializer(many=True),
    )
)
class AccessLogListView(ApiView):
    query_filters = s.AccessLogFilterSerializer

    def get(self, request, *args, **kwargs):
        self.require_role("accesslog.view", _("Réservé au ou à la délégué·e à la protection des données."))
        filters = s.AccessLogFilterSerializer(data=query_data(request.query_params, s.AccessLogFilterSerializer))
        filters.is_valid(raise_exception=True)
        rows = selectors.access_log_for(
            self.actor,
            query=filters.validated_data.get("q", ""),
            **{name: filters.validated_data.get(name) for name in ("channel", "since", "until")},
        )
        page = self.paginate_queryset(rows.order_by())
        return self.get_paginated_response(s.AccessLogEntrySerializer(page, many=True).data)


# --- Creations on collections --------------------------------------------------------------------------------
class CreateMixin:
    create_action = ""
    create_serializer = None
    create_service = None

    def post(self, request, *args, **kwargs):
        self.require_role(self.create_action, _("Votre rôle ne permet pas de faire cette action."))
        inputs = self.parse(self.create_serializer)
        created = self.create_service(actor=self.actor, **inputs.to_service_kwargs())
        return Response(
            self.represent_fresh(created.pk),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse(f"api:{self.resource.path}-detail", kwargs={"pk": created.pk})},
        )


def _create_schema(resource, summary, serializer):
    return extend_schema(
        summary=summary, tags=_tag(resource), request=serializer, responses={201: resource.serializer}
    )


def _creatable_list_view(name, *, resource, list_title, create_title, action, serializer, service):
    """A collection that lists (scoped selector) and creates (through one service)."""
    view = type(
        name,
        (CreateMixin, ResourceListView),
        {
            "resource": resource,
            "create_action": action,
            "create_serializer": serializer,
            "create_service": staticmethod(service),
            "__module__": __name__,
            "__doc__": "",
        },
    )
    return extend_schema_view(
        get=list_schema(resource, list_title), post=_create_schema(resource, create_title, serializer)
    )(view)


ReferralListView = _creatable_list_view(
    "ReferralListView",
    resource=r.REFERRALS,
    list_title="Positionnements",
    create_title="Positionner un·e jeune sur une offre",
    action="referral.create",
    serializer=s.ReferralCreateSerializer,
    service=referrals.referral_create,
)
HoursLineListView = _creatable_list_view(
    "HoursLineListView",
    resource=r.HOURS_LINES,
    list_title="Relevés d'heures",
    create_title="Déclarer les heures d'un mois",
    action="placement.declare_hours",
    serializer=s.HoursDeclareSerializer,
    service=placements.hours_declare,
)
JobOfferListView = _creatable_list_view(
    "JobOfferListView",
    resource=r.JOB_OFFERS,
    list_title="Offres (fiches de poste)",
    create_title="Publier une offre sur un lot",
    action="offer.create",
    serializer=s.OfferCreateSerializer,
    service=register.offer_create,
)


@extend_schema_view(
    post=extend_schema(
        summary="Clôturer l'offre",
        tags=_tag(r.JOB_OFFERS),
        request=s.EmptyInputSerializer,
        responses=s.JobOfferSerializer,
    )
)
class JobOfferCloseView(ApiView):
    resource = r.JOB_OFFERS

    def post(self, request, *args, **kwargs):
        offer = self.get_object()
        self.require("offer.close", offer, _("Seule la structure porteuse du lot clôture ses offres."))
        self.parse(s.EmptyInputSerializer)
        register.offer_close(actor=self.actor, offer=offer.pk)
        return Response(self.represent_fresh(offer.pk))


# --- Monthly statements of a lot -----------------------------------------------------------------------------
def _statement_month(text):
    latest = latest_month()
    month = month_from_text(text, earliest=EARLIEST_DATE, latest=latest)
    if month is None:
        raise ApiProblem(
            status.HTTP_400_BAD_REQUEST,
            "invalid_input",
            _("Mois : format AAAA-MM attendu (ex. 2026-03), de 2000-01 à %(latest)s.") % {"latest": f"{latest:%Y-%m}"},
            field="month",
        )
    return month


class LotStatementMixin:
    resource = r.LOTS

    def _lot(self):
        pk = self.kwargs["pk"]
        lot = selectors.statement_lot(actor=self.actor, pk=pk) if 0 < pk <= r.MAX_ID else None
        if lot is None:
            raise self.not_found()
        return lot

    def _represent(self, lot, month):
        rows = selectors.statement_rows(actor=self.actor, lot=lot, month=month)
        # Each row names an employee: one access-log row each, as the statement page and the API's lists.
        ids = [row.placement.pathway.participant_id for row in rows]
        log_access(actor=self.actor, participant_ids=ids, channel=AccessChannel.API, purpose="list")
        return s.StatementSerializer(
            {
                "lot": lot,
                "month": month,
                "statement": selectors.statement_of(actor=self.actor, lot=lot, month=month),
                "rows": rows,
            }
        ).data


@extend_schema_view(
    get=extend_schema(
        summary="Relevé mensuel d'un lot (une ligne par mise en poste en cours ce mois-là)",
        tags=_tag(r.LOTS),
        responses=s.StatementSerializer,
    ),
    post=extend_schema(
        summary="Déclarer le mois pour tous les salarié·es du lot (tout ou rien)",
        tags=_tag(r.LOTS),
        request=s.StatementSubmitSerializer,
        responses={201: s.StatementSerializer},
    ),
)
class LotStatementView(LotStatementMixin, ApiView):
    def get(self, request, *args, **kwargs):
        self.require_role("statement.view")
        month = _statement_month(kwargs["month"])
        return Response(self._represent(self._lot(), month))

    def post(self, request, *args, **kwargs):
        self.require_role("statement.submit", _("Seul l'attributaire du lot déclare ses relevés d'heures."))
        month = _statement_month(kwargs["month"])
        lot = self._lot()
        inputs = self.parse(s.StatementSubmitSerializer)
        rows = [statements.StatementRow(row=index, **row) for index, row in enumerate(inputs.validated_data["rows"])]
        no_hours = inputs.validated_data["no_hours"]
        statements.statement_submit(
            actor=self.actor, lot=lot.pk, month=month, rows=rows, source=StatementSource.API, no_hours=no_hours
        )
        return Response(
            self._represent(lot, month), status=status.HTTP_201_CREATED, headers={"Location": request.path}
        )


@extend_schema_view(
    post=extend_schema(
        summary="Relancer l'attributaire dont le relevé du mois manque (structure porteuse du lot)",
        tags=_tag(r.LOTS),
        request=s.EmptyInputSerializer,
        responses=s.StatementSerializer,
    )
)
class LotStatementRemindView(LotStatementMixin, ApiView):
    def post(self, request, *args, **kwargs):
        self.require_role("statement.remind", _("Seule la structure porteuse du lot relance ses employeurs."))
        month = _statement_month(kwargs["month"])
        lot = self._lot()
        self.parse(s.EmptyInputSerializer)  # as an offer's closing: a body that says something else is refused
        statements.statement_remind(actor=self.actor, lot=lot.pk, month=month)
        return Response(self._represent(lot, month))


# --- The generic views, per resource -------------------------------------------------------------------------
LIST_SUMMARIES = {
    "pathways": "Parcours",
    "placements": "Mises en poste",
    "lots": "Lots (registre des clauses, heures réalisées)",
}
DETAIL_SUMMARIES = {
    "pathways": "Un parcours",
    "referrals": "Un positionnement",
    "placements": "Une mise en poste",
    "hours-lines": "Un relevé d'heures",
    "job-offers": "Une offre",
    "lots": "Un lot",
}


def list_view(resource):
    schema = list_schema(resource, LIST_SUMMARIES[resource.path])
    return build(ResourceListView, resource, f"{resource.model.__name__}ListView", get=schema)


def detail_view(resource):
    schema = detail_schema(resource, DETAIL_SUMMARIES[resource.path])
    return build(ResourceDetailView, resource, f"{resource.model.__name__}DetailView", get=schema)


def history_view(resource):
    return build(ResourceHistoryView, resource, f"{resource.model.__name__}HistoryView", get=history_schema(resource))
