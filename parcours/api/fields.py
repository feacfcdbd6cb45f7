"""Strict JSON input fields: a wrong JSON type is a 400 with a French message, never a silent conversion, and
unknown fields are refused (code "unknown_field")."""

import datetime
import re
from collections.abc import Mapping

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from parcours.converters import MAX_ID  # noqa: F401  (part of this module's interface)

MAX_UNKNOWN_FIELDS_REPORTED = 20


# --- Strict input fields ---------------------------------------------------------------------------------------
# DRF messages its French translation lacks (it answered "Not a valid string."): each field below sets them.
# tests/api/test_errors.py walks every input serializer's fields for a message left in English.
NOT_A_STRING = "Texte attendu (une chaîne JSON)."
NOT_A_BOOLEAN = "Booléen attendu (true ou false)."


class StrictCharField(serializers.CharField):
    """A JSON string, nothing else (DRF would turn 12 into "12")."""

    default_error_messages = {"invalid": NOT_A_STRING}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (not a boolean, a string or a float)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": NOT_A_BOOLEAN}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class StrictDateField(serializers.DateField):
    """An ISO date string "YYYY-MM-DD", in ASCII digits ("٢٠٢٦-٠٣-٠١" is read as a date by `fromisoformat`). A day
    the calendar lacks (2026-02-31) is said to be one, not a wrong format; the format in the docs' words."""

    default_error_messages = {"impossible": "Cette date n'existe pas : {value}."}

    def to_internal_value(self, value):
        # Only this format: DRF's parser (Python's fromisoformat) also reads "2005-2-1", "20051201" and an ISO week
        # day "2026-W49-1" — a slip read as some date, an end recorded on the wrong day.
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
            self.fail("invalid", format="AAAA-MM-JJ")
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.fail("impossible", value=value)


class QueryBooleanField(serializers.BooleanField):
    """A yes/no in a query string (true/false, 1/0…); empty is not one (`?is_open=` listed every offer, as if not
    asked, where an empty `?state=` is refused)."""

    default_error_messages = {"invalid": NOT_A_BOOLEAN}

    def to_internal_value(self, data):
        if data == "":
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictListField(serializers.ListField):
    """A JSON list (DRF's own refuses a string or an object), with its length limits in French."""

    default_error_messages = {
        "min_length": "Au moins {min_length} élément(s) attendu(s).",
        "max_length": "{max_length} éléments au plus.",
    }


class QueryIntegerField(serializers.IntegerField):
    """An integer in a query string: ASCII digits only (DRF's reads "١٢" as 12 and "1_2" as 12)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            self.fail("invalid")  # "1_0" is 10 for `int`, "1.0" 1 for DRF: an id is written in digits
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """A decimal as a JSON number or a string ("35.5")."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        if isinstance(data, str) and (not data.isascii() or "_" in data):
            self.fail("invalid")  # "٣", "１" or "1_0": `Decimal` would read them as 3, 1 and 10
        return super().to_internal_value(data)


class StrictDecimalFieldSchema(OpenApiSerializerFieldExtension):
    """In the OpenAPI schema, a `StrictDecimalField` takes a JSON number or a string, as it does (DRF's mapping says a
    string only)."""

    target_class = StrictDecimalField

    def map_serializer_field(self, auto_schema, direction):
        text = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        number = {"type": "number"}  # no `multipleOf`: 0.01 is no float's exact step
        for bound, key in ((self.target.min_value, "minimum"), (self.target.max_value, "maximum")):
            if bound is not None:
                number[key] = float(bound)
        described = {key: text.pop(key) for key in ("description", "title", "readOnly") if key in text}
        return {"oneOf": [number, text], **described}


class StrictSerializer(serializers.Serializer):
    """Refuses unknown fields (code "unknown_field") along with the other field errors."""

    def to_internal_value(self, data):
        unknown = sorted(str(k) for k in set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            if not unknown:
                raise
            errors = dict(exc.detail) if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        else:
            if not unknown:
                return value
            errors = {}
        for name in unknown[:MAX_UNKNOWN_FIELDS_REPORTED]:
            errors[name] = [ErrorDetail("Champ inconnu.", code="unknown_field")]
        raise ValidationError(errors)

    def to_service_kwargs(self) -> dict:
        return dict(self.validated_data)
