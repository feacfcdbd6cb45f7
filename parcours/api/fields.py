"""Strict JSON input fields: a wrong JSON type is a 400 with a French message, never a silent conversion, and
unknown fields are refused (code "unknown_field")."""

import datetime
import decimal
import re
import zoneinfo
from collections.abc import Mapping

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
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


PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
SINCE_FORMAT = "AAAA-MM-JJTHH:MM:SS avec son décalage (Z ou +01:00), ou AAAA-MM-JJ (minuit, heure de Paris)"


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$",
        "example": "2026-03-01T08:30:00+01:00",
    }
)
class QuerySinceField(serializers.Field):
    """An instant in a query string: an ISO date-time with its offset (without one, whose 10 o'clock?), or a date,
    midnight in Paris (the day as the pages show it). An aware datetime in UTC."""

    default_error_messages = {
        "invalid": "Format attendu : {format}.",
        "impossible": "Cette date ou cette heure n'existe pas : {value}.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or not (ISO_DATE.fullmatch(data) or ISO_DATETIME.fullmatch(data)):
            self.fail("invalid", format=SINCE_FORMAT)
        try:
            if len(data) == 10:
                value = datetime.datetime.combine(datetime.date.fromisoformat(data), datetime.time(), PARIS)
            else:
                value = datetime.datetime.fromisoformat(data)
            return value.astimezone(datetime.UTC)  # 0001-01-01T00:00+01:00 is before the first instant there is
        except (ValueError, OverflowError):
            self.fail("impossible", value=data)

    def to_representation(self, value):
        return value.isoformat()


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


QUERY_INTEGER = re.compile(r"-?[0-9]+")


class QueryIntegerField(serializers.IntegerField):
    """An integer in a query string: ASCII digits only (DRF's reads "١٢" as 12 and "1_2" as 12). A negative one is
    an integer out of bounds, said as 0 is ("≥ 1"), not "not an integer"."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not QUERY_INTEGER.fullmatch(data):
            self.fail("invalid")  # "1_0" is 10 for `int`, "1.0" 1 for DRF: an id is written in digits
        return super().to_internal_value(data)


DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class StrictDecimalField(serializers.DecimalField):
    """A decimal as a JSON number or a string ("35.5"). A string has the schema's shape, digits and a point: `Decimal`
    also reads "1e2" (100 hours), "+5", " 5", "5." and ".5"; the digits' bounds are DRF's checks (its messages)."""

    default_error_messages = {"shape": "Nombre attendu, écrit en chiffres avec un point décimal (ex. 17.5)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        if isinstance(data, str) and not DECIMAL_TEXT.fullmatch(data):
            self.fail("shape")  # also "٣", "１" or "1_0", which `Decimal` reads as 3, 1 and 10
        try:
            return super().to_internal_value(data)
        except decimal.InvalidOperation:
            # Too many digits to round (-2e307 where the digits are unbounded): DRF let it out as a 500.
            negative = str(data).startswith("-")
            if negative and self.min_value is not None:
                self.fail("min_value", min_value=self.min_value)
            if not negative and self.max_value is not None:
                self.fail("max_value", max_value=self.max_value)
            self.fail("invalid")

    def text_pattern(self) -> str:
        """The string's shape, with its bounds, as the schema says it."""
        whole = r"\d+" if self.max_whole_digits is None else rf"\d{{1,{self.max_whole_digits}}}"
        decimals = r"\d+" if self.decimal_places is None else rf"\d{{1,{self.decimal_places}}}"
        return rf"^-?{whole}(?:\.{decimals})?$"


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
        if "pattern" in text or self.target.max_whole_digits is None:
            text["pattern"] = self.target.text_pattern()  # spectacular's admits "5.", ".5", "" and "-"
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
