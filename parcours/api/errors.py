"""RFC 9457 problem details for every API error, with a French `detail` and a stable `code`.

DRF exceptions, domain errors (workflows.errors.DomainError) and Django's Http404/PermissionDenied are
mapped here; the API never answers an input error with a 5xx.
"""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError, OperationalError
from django.http import Http404, JsonResponse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from parcours.api.throttling import TokenObtainRateThrottle
from workflows.errors import DomainError, RowsRefused

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:parcours:problem:"

TITLES = {
    400: gettext_lazy("Requête invalide"),
    401: gettext_lazy("Authentification requise"),
    403: gettext_lazy("Action non autorisée"),
    404: gettext_lazy("Ressource introuvable"),
    405: gettext_lazy("Méthode non autorisée"),
    406: gettext_lazy("Format de réponse non disponible"),
    409: gettext_lazy("Conflit avec l'état actuel"),
    412: gettext_lazy("Version périmée"),
    413: gettext_lazy("Requête trop volumineuse"),
    415: gettext_lazy("Format de requête non pris en charge"),
    429: gettext_lazy("Trop de requêtes"),
    503: gettext_lazy("Service indisponible"),
}

# DRF exception → (code, French detail); None keeps the exception's own (translated) message.
DRF_EXCEPTIONS = [
    (exceptions.ParseError, "malformed_json", None),
    (
        exceptions.NotAuthenticated,
        "not_authenticated",
        gettext_lazy(
            "Authentification requise : fournissez un jeton (en-tête « Authorization: Token … ») ou connectez-vous."
        ),
    ),
    (exceptions.AuthenticationFailed, "authentication_failed", None),
    (exceptions.PermissionDenied, "forbidden", gettext_lazy("Vous n'avez pas le droit de faire cette action.")),
    (exceptions.NotFound, "not_found", gettext_lazy("Ressource introuvable.")),
    (exceptions.MethodNotAllowed, "method_not_allowed", None),
    (exceptions.NotAcceptable, "not_acceptable", gettext_lazy("Seul le format JSON est disponible.")),
    (
        exceptions.UnsupportedMediaType,
        "unsupported_media_type",
        gettext_lazy("Le corps de la requête doit être du JSON (Content-Type: application/json)."),
    ),
]


class ApiProblem(exceptions.APIException):
    """An API-level refusal that is not a domain error (bad header, bad cursor, body too large…)."""

    def __init__(self, status_code: int, code: str, detail: str, *, field: str | None = None):
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.problem_code = code
        self.field = field


class PayloadTooLarge(ApiProblem):
    def __init__(self, limit: int):
        super().__init__(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            "payload_too_large",
            gettext("Le corps de la requête dépasse la taille maximale autorisée (%(limit)s octets).")
            % {"limit": limit},
        )


def problem(*, status_code: int, code: str, detail: str, instance: str | None = None, errors=None) -> dict:
    body = {
        "type": f"{PROBLEM_TYPE_PREFIX}{code}",
        "title": str(TITLES.get(status_code) or gettext("Erreur")),
        "status": status_code,
        "detail": str(detail),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return body


def problem_response(*, status_code, code, detail, request=None, errors=None, headers=None) -> Response:
    instance = getattr(request, "path", None)
    body = problem(status_code=status_code, code=code, detail=detail, instance=instance, errors=errors)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _flatten(detail, path=""):
    """Yield (field path, ErrorDetail) from a DRF ValidationError detail (nested dicts and lists)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = "" if key == "non_field_errors" else str(key)
            yield from _flatten(value, f"{path}.{sub}" if path and sub else (path or sub))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                yield from _flatten(item, f"{path}.{index}" if path else str(index))
            else:
                yield path, item
    else:
        yield path, detail


def _message(field, message) -> str:
    # DRF writes this one in English whatever the language (rest_framework.serializers.Serializer.errors): a body
    # of JSON `null`.
    if not field and getattr(message, "code", None) == "null" and str(message) == "No data provided":
        return gettext("Le corps de la requête doit être un objet JSON, pas null.")
    return str(message)


def validation_errors(detail) -> list[dict]:
    return [
        {
            "field": field or None,
            "code": getattr(message, "code", None) or "invalid",
            "detail": _message(field, message),
        }
        for field, message in _flatten(detail)
    ]


def _validation_problem(exc, request):
    errors = validation_errors(exc.detail)
    code = "unknown_field" if errors and all(e["code"] == "unknown_field" for e in errors) else "invalid_input"
    first = errors[0] if errors else {"field": None, "detail": gettext("Données invalides.")}
    where = gettext("« %(field)s » : ") % {"field": first["field"]} if first["field"] else ""
    detail = gettext("La requête contient des données invalides : %(where)s%(detail)s") % {
        "where": where,
        "detail": first["detail"],
    }
    if len(errors) > 1:
        others = len(errors) - 1
        detail += ngettext(" (et %(n)s autre erreur)", " (et %(n)s autres erreurs)", others) % {"n": others}
    return problem_response(status_code=400, code=code, detail=detail, request=request, errors=errors)


def _domain_problem(exc: DomainError, request):
    errors = [{"field": exc.field, "code": exc.code, "detail": exc.message}] if exc.field else None
    if isinstance(exc, RowsRefused):  # a batch refused as a whole: every bad row, by its index in `rows`
        errors = [
            {
                "field": f"rows.{e['row']}" + (f".{e['field']}" if e["field"] else ""),
                "code": exc.code,
                "detail": e["message"],
                "row": e["row"],
            }
            for e in exc.errors
        ]
    response = problem_response(
        status_code=exc.status, code=exc.code, detail=exc.message, request=request, errors=errors
    )
    response.data.update(exc.extensions)
    return response


def _is_concurrency_error(exc: OperationalError) -> bool:
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return sqlstate in {"40001", "40P01", "55P03"} or "database is locked" in str(exc)


def problem_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error becomes application/problem+json."""
    request = context.get("request")
    with translation.override("fr"):
        if isinstance(exc, DomainError):
            return _domain_problem(exc, request)
        if isinstance(exc, exceptions.ValidationError):
            return _validation_problem(exc, request)
        if isinstance(exc, ApiProblem):
            errors = [{"field": exc.field, "code": exc.problem_code, "detail": str(exc.detail)}] if exc.field else None
            return problem_response(
                status_code=exc.status_code, code=exc.problem_code, detail=exc.detail, request=request, errors=errors
            )
        if isinstance(exc, exceptions.Throttled):
            view = context.get("view")
            wait = exc.wait
            if wait is None:  # never a 429 without Retry-After: at worst, the longest window of the view's limits
                wait = max((t.duration for t in view.get_throttles() if getattr(t, "duration", None)), default=60)
            wait = max(1, math.ceil(wait))
            per_address = any(issubclass(t, TokenObtainRateThrottle) for t in getattr(view, "throttle_classes", ()))
            # The token endpoint counts per client address (no token yet), the others per token or session.
            detail = (
                gettext("Trop de demandes de jeton depuis cette adresse.")
                if per_address
                else gettext("Trop de requêtes pour ce jeton.")
            )
            detail += gettext(" Réessayez dans %(wait)s seconde(s).") % {"wait": wait}
            return problem_response(
                status_code=429, code="throttled", detail=detail, request=request, headers={"Retry-After": str(wait)}
            )
        if isinstance(exc, Http404):
            return problem_response(
                status_code=404, code="not_found", detail=gettext("Ressource introuvable."), request=request
            )
        if isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied()
        if isinstance(exc, RequestDataTooBig):
            return _too_big(request)
        if isinstance(exc, SuspiciousOperation):
            return problem_response(
                status_code=400, code="invalid_request", detail=gettext("Requête invalide."), request=request
            )
        if isinstance(exc, IntegrityError):
            # The services check uniqueness first; a constraint hit here is a race lost to another request.
            logger.warning("integrity error answered with 409 concurrent_change", exc_info=exc)
            return problem_response(
                status_code=409,
                code="concurrent_change",
                detail=gettext("Une autre action vient de modifier ces données : rechargez-les et réessayez."),
                request=request,
            )
        if isinstance(exc, OperationalError) and _is_concurrency_error(exc):
            return problem_response(
                status_code=409,
                code="concurrent_change",
                detail=gettext(
                    "L'objet a été modifié en même temps par quelqu'un d'autre : rechargez-le et réessayez."
                ),
                request=request,
            )
        if isinstance(exc, exceptions.PermissionDenied) and "CSRF" in str(exc.detail):
            return problem_response(
                status_code=403,
                code="csrf_failed",
                detail=gettext(
                    "Jeton CSRF absent ou invalide : envoyez l'en-tête X-CSRFToken, ou utilisez un jeton d'API."
                ),
                request=request,
            )
        for exc_class, code, detail in DRF_EXCEPTIONS:
            if isinstance(exc, exc_class):
                if isinstance(exc, exceptions.AuthenticationFailed) and isinstance(exc.get_codes(), str):
                    code = exc.get_codes()  # the authentication's reason: invalid_token, token_expired
                headers = {}
                if getattr(exc, "auth_header", None):
                    headers["WWW-Authenticate"] = exc.auth_header
                return problem_response(
                    status_code=exc.status_code,
                    code=code,
                    detail=detail or exc.detail,
                    request=request,
                    headers=headers or None,
                )
        if isinstance(exc, exceptions.APIException):
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
            return problem_response(status_code=exc.status_code, code=code, detail=exc.detail, request=request)
    return None  # a real bug: let Django report it


def _too_big(request):
    exc = PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return problem_response(status_code=413, code=exc.problem_code, detail=exc.detail, request=request)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Catch-all for /api/v1/…: an unknown address is a 404 problem, never an HTML page or a redirect."""
    body = problem(
        status_code=404, code="not_found", detail=gettext("Aucune ressource à cette adresse."), instance=request.path
    )
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False})
