"""The API input serializers of the transitions, derived from their declared inputs (workflows.transitions): one
strict JSON field per input, with its type, limits, label and help text; the same names as the service's keyword
arguments."""

import functools

from rest_framework import serializers

from parcours.api.fields import (
    MAX_ID,
    StrictCharField,
    StrictDateField,
    StrictDecimalField,
    StrictIntegerField,
    StrictListField,
    StrictSerializer,
)
from workflows.inputs import CHOICE, CHOICES, DATE, DECIMAL, ID_CHOICE, LONGTEXT, PROOFS, TEXT
from workflows.vocabulary import ProofKind


class ProofInputSerializer(StrictSerializer):
    criterion = StrictCharField(max_length=50, help_text="Code du critère.")
    proof_kind = serializers.ChoiceField(choices=ProofKind.choices)
    seen_on = StrictDateField()


def input_field(declared):
    help_text = declared.help_text or declared.label
    optional = {} if declared.required else {"required": False}
    if declared.type in (TEXT, LONGTEXT):
        if not declared.required:
            optional.update(allow_blank=True, default="")
        return StrictCharField(max_length=declared.max_length, help_text=help_text, **optional)
    if declared.type == DATE:
        if not declared.required:
            optional["allow_null"] = True
        return StrictDateField(help_text=help_text, **optional)
    if declared.type == DECIMAL:
        return StrictDecimalField(
            max_digits=None,
            decimal_places=declared.decimal_places,
            min_value=declared.min_value,
            max_value=declared.max_value,
            help_text=help_text,
            **optional,
        )
    if declared.type == ID_CHOICE:
        return StrictIntegerField(max_value=MAX_ID, allow_null=not declared.required, help_text=help_text, **optional)
    if declared.type == CHOICE:
        if declared.default is not None:
            optional["default"] = declared.default
        if declared.choices is not None:
            return serializers.ChoiceField(choices=declared.choices.choices, help_text=help_text, **optional)
        return StrictCharField(max_length=50, help_text=help_text, **optional)
    if declared.type == CHOICES:
        return StrictListField(
            child=StrictCharField(max_length=50),
            max_length=declared.max_items,
            help_text=help_text,
            **({} if declared.required else {"required": False, "default": list}),
        )
    if declared.type == PROOFS:
        return StrictListField(child=ProofInputSerializer(), max_length=50, help_text=help_text, **optional)
    raise ValueError(declared.type)


class TransitionInputSerializer(StrictSerializer):
    spec = None

    def to_service_kwargs(self):
        data = dict(self.validated_data)
        for declared in self.spec.inputs:
            if declared.type == PROOFS and declared.name in data:
                proofs = data.pop(declared.name) or []
                if proofs:
                    data[declared.name] = {p["criterion"]: (p["proof_kind"], p["seen_on"]) for p in proofs}
            elif data.get(declared.name) is None and not declared.required:
                data.pop(declared.name, None)
        return data


@functools.cache
def input_serializer(spec) -> type[TransitionInputSerializer]:
    """The input serializer of a declared transition (`{}` when it takes nothing)."""
    fields = {i.name: input_field(i) for i in spec.inputs}
    name = "".join(part.title() for part in f"{spec.machine}_{spec.name}".split("_")) + "InputSerializer"
    doc = f"Données de « {spec.label} »." if spec.inputs else "Aucune donnée : envoyez `{}` ou rien."
    return type(name, (TransitionInputSerializer,), {"spec": spec, "__doc__": doc, "__module__": __name__, **fields})
