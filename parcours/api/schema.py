"""OpenAPI post-processing: the problem-details responses and the X-Organisation header on every operation."""

from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from rest_framework.fields import empty

from parcours.api.auth import ORGANISATION_HEADER
from parcours.api.errors import PROBLEM_CONTENT_TYPE, TITLES

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details (application/problem+json).",
    "properties": {
        "type": {"type": "string", "description": "URI du type de problème (urn:parcours:problem:<code>)."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Explication en français."},
        "code": {"type": "string", "description": "Code stable (invalid_input, not_found, invalid_transition…)."},
        "version": {"type": "integer", "description": "412 : la version actuelle du dossier."},
        "changed_fields": {
            "type": "array",
            "items": {"type": "string"},
            "description": "412 : les champs modifiés depuis la version donnée.",
        },
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                    "row": {
                        "type": "integer",
                        "description": "Un relevé mensuel refusé : l'index de la ligne refusée dans `rows`.",
                    },
                },
                "required": ["field", "code", "detail"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}

DESCRIPTIONS = {
    400: "Données invalides (JSON mal formé, type inattendu, champ inconnu, règle métier).",
    401: "Authentification absente ou jeton invalide.",
    403: "Action non autorisée pour votre rôle, ou organisation non autorisée.",
    404: "Introuvable, ou hors de votre périmètre.",
    405: "Méthode non disponible à cette adresse (l'en-tête Allow donne les méthodes acceptées).",
    409: "Transition impossible depuis l'état actuel, modification concurrente, dossier anonymisé, doublon d'un "
    "objet existant (duplicate_…), ou mois déjà déclaré ou clôturé (already_declared, statement_conflict, "
    "month_locked, month_closed, statement_submitted).",
    412: "Version périmée : le dossier a été modifié depuis la version donnée dans If-Match (`version` donne "
    "l'actuelle, `changed_fields` ce qui a changé depuis) ; rien n'a été enregistré.",
    413: "Corps de requête trop volumineux.",
    415: "Le corps de la requête doit être du JSON.",
    406: "Format de réponse non disponible : l'API répond en JSON (application/json, et "
    "application/problem+json pour ses erreurs).",
    429: "Trop de requêtes : par jeton (ou session), par adresse pour la demande de jeton. L'en-tête Retry-After "
    "donne les secondes à attendre.",
    503: "Un service partagé est momentanément indisponible : réessayez après les secondes de Retry-After.",
}
RESPONSE_HEADERS = {
    401: {"WWW-Authenticate": "Le schéma d'authentification attendu (Token)."},
    405: {"Allow": "Les méthodes acceptées à cette adresse."},
    429: {"Retry-After": "Secondes à attendre avant de réessayer."},
    503: {"Retry-After": "Secondes à attendre avant de réessayer."},
}
LOCATION_HEADER = {
    "Location": {"description": "L'adresse de l'objet créé.", "schema": {"type": "string", "format": "uri-reference"}}
}
ETAG_HEADER = {
    "ETag": {
        "description": 'Version des données du dossier (`"v3"`), à renvoyer dans If-Match pour le modifier '
        "(absent pour un·e auditeur·rice).",
        "schema": {"type": "string"},
    }
}
IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "L'ETag du dossier lu (`\"v3\"`) : la modification est refusée (412) si quelqu'un l'a modifié "
    "depuis. Sans cet en-tête, la modification s'applique sur la version actuelle.",
    "schema": {"type": "string"},
}
# The file's representations carry its data's version as an ETag; its edit takes If-Match (and may answer 412).
VERSIONED = {
    "/api/v1/participants/": {"post": "201"},
    "/api/v1/participants/{id}/": {"get": "200", "patch": "200"},
    "/api/v1/participants/{id}/notice/": {"post": "200"},
}
CONDITIONAL = {("/api/v1/participants/{id}/", "patch")}
# A read that answers 304 to an If-None-Match of the current ETag.
CACHEABLE = {("/api/v1/participants/{id}/", "get")}
IF_NONE_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "L'ETag du dossier déjà lu (`\"v3\"`) : s'il est toujours actuel, la réponse est 304, sans corps.",
    "schema": {"type": "string"},
}
NOT_MODIFIED = {"description": "Le dossier n'a pas changé depuis la version donnée dans If-None-Match (pas de corps)."}
MONTH_SCHEMA = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}$",
    "description": "Mois (AAAA-MM).",
    "example": "2026-03",
}
READ_STATUSES = (400, 401, 403, 404, 405, 406, 429, 503)
WRITE_STATUSES = (400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 503)
# A 201 without an address of its own: a follow-up recorded is read in its pathway's list.
CREATED_WITHOUT_LOCATION = ("/api/v1/pathways/{id}/follow-ups/",)
UNAUTHENTICATED_PATHS = ("/api/v1/auth/token/",)

ORGANISATION_PARAMETER = {
    "in": "header",
    "name": ORGANISATION_HEADER,
    "required": False,
    "description": "Organisation (identifiant) pour laquelle vous agissez, si vous en avez plusieurs.",
    "schema": {"type": "integer", "minimum": 1},
}


def add_problem_responses(result, generator, request, public):
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    responses = components.setdefault("responses", {})
    for status_code, description in DESCRIPTIONS.items():
        responses[f"Problem{status_code}"] = {
            "description": f"{TITLES[status_code]} — {description}",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status_code in RESPONSE_HEADERS:
            responses[f"Problem{status_code}"]["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in RESPONSE_HEADERS[status_code].items()
            }
    for url, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            statuses = WRITE_STATUSES if method in {"post", "put", "patch"} else READ_STATUSES
            for status_code in statuses:
                operation["responses"].setdefault(
                    str(status_code), {"$ref": f"#/components/responses/Problem{status_code}"}
                )
            answered = VERSIONED.get(url, {}).get(method)
            if answered is not None:
                operation["responses"][answered].setdefault("headers", {}).update(ETAG_HEADER)
            if (url, method) in CACHEABLE:
                operation.setdefault("parameters", []).append(dict(IF_NONE_MATCH_PARAMETER))
                operation["responses"]["304"] = {**NOT_MODIFIED, "headers": dict(ETAG_HEADER)}
            if (url, method) in CONDITIONAL:
                operation.setdefault("parameters", []).append(dict(IF_MATCH_PARAMETER))
                operation["responses"].setdefault("412", {"$ref": "#/components/responses/Problem412"})
            created = operation["responses"].get("201")
            if created is not None and "$ref" not in created and url not in CREATED_WITHOUT_LOCATION:
                created.setdefault("headers", {}).update(LOCATION_HEADER)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "month":  # `<str:month>`: a month, AAAA-MM
                    parameter["schema"] = dict(MONTH_SCHEMA)
            if url not in UNAUTHENTICATED_PATHS:
                operation.setdefault("parameters", []).append(dict(ORGANISATION_PARAMETER))
    return result


def _may_be_left_out(serializer, field) -> bool:
    """A field an output serializer may leave out: declared optional, with no default and not nullable (DRF skips it
    when its source is missing: a transition input's `choices`); a model field is always there, null or blank."""
    return (
        field.field_name in getattr(serializer, "_declared_fields", {})
        and not field.read_only
        and not field.required
        and field.default is empty
        and not field.allow_null
    )


def require_response_fields(result, generator, request, public):
    """Response components list as `required` every field their serializer always sends (`state`, `email`…): DRF
    marks required what a request must send, and a client generator read the others as optional. Request components
    (`…Request`: COMPONENT_SPLIT_REQUEST) keep their own rules; nullable fields stay nullable."""
    schemas = result.get("components", {}).get("schemas", {})
    for (name, kind), component in generator.registry._components.items():
        if kind != ResolvedComponent.SCHEMA or name.endswith("Request") or name not in schemas:
            continue
        if not is_serializer(component.object):
            continue
        serializer = force_instance(component.object)
        properties = schemas[name].get("properties", {})
        fields = serializer.fields
        required = [
            prop for prop in properties if prop not in fields or not _may_be_left_out(serializer, fields[prop])
        ]
        if required:
            schemas[name]["required"] = required
    return result
