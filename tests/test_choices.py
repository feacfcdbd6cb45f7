"""`get_FOO_display()` from the labels kept per field (roles.choices) says exactly what Django's own says."""

import pytest
from django.apps import apps
from django.db import models
from django.utils import translation

from parcours.models import Pathway
from parcours.work.models import WorkTask
from roles.choices import ChoiceLabels
from workflows.states import PathwayState


def _fields_with_choices():
    for model in apps.get_models():
        if issubclass(model, ChoiceLabels):
            for field in model._meta.concrete_fields:
                if field.choices:
                    yield model, field


def test_every_model_of_ours_with_choices_keeps_its_labels():
    """A model with choices left without the mixin would silently cost a translation per choice per call."""
    ours = {"parcours", "roles", "workflows"}
    missing = [
        model.__name__
        for model in apps.get_models()
        if model._meta.app_label in ours
        and any(field.choices for field in model._meta.concrete_fields)
        and not issubclass(model, ChoiceLabels)
    ]
    assert missing == []


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_labels_are_djangos_for_every_value_and_language(language):
    checked = 0
    with translation.override(language):
        for model, field in _fields_with_choices():
            for value, _label in field.flatchoices:
                row = model(**{field.attname: value})
                ours = getattr(row, f"get_{field.name}_display")()
                assert ours == models.Model._get_FIELD_display(row, field), (model, field.name, value)
                checked += 1
    assert checked > 100


def test_a_value_outside_the_choices_is_shown_as_it_is():
    assert WorkTask(kind="not-a-kind").get_kind_display() == "not-a-kind"
    assert WorkTask(kind=None).get_kind_display() is None


def test_the_kept_labels_follow_the_language_of_each_call():
    pathway = Pathway(state=PathwayState.EXITED)
    with translation.override("fr"):
        french = pathway.get_state_display()
    with translation.override("en"):
        english = pathway.get_state_display()
    assert french != english and french == str(PathwayState.EXITED.label)
