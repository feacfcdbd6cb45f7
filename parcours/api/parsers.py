"""The API's only parser: strict JSON, bounded in size (settings.DATA_UPLOAD_MAX_MEMORY_SIZE) and depth."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from parcours.api.errors import PayloadTooLarge


def _reject_constant(name):
    raise ValueError(f"{name} n'est pas une valeur JSON valide")


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        if limit is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
            except (TypeError, ValueError):
                declared = 0
            if declared > limit:
                raise PayloadTooLarge(limit)
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise PayloadTooLarge(limit)
        else:
            raw = stream.read()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_reject_constant)
            # `"\ud800"` is valid JSON but no character: echoed in an error, or stored, it could not be encoded.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("Le corps de la requête est un JSON trop profondément imbriqué.") from None
        except UnicodeEncodeError:
            raise ParseError("Le corps de la requête contient un caractère invalide (substitut isolé).") from None
        except (ValueError, UnicodeDecodeError, LookupError):
            raise ParseError("Le corps de la requête n'est pas un JSON valide.") from None
        return data
