"""`get_FOO_display()` from a table of labels kept per field.

Django's own rebuilds a hashable copy of every choice of the field at each call, hashing each lazy label, that is
translating it: a list of 50 tasks showing their kind twice per row translated about 900 labels (a fifth of the
queue page's time). The table keeps the lazy labels themselves, so each call still speaks the request's language.
"""

import functools

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


@functools.cache
def _labels(field) -> dict:
    return dict(make_hashable(field.flatchoices))


class ChoiceLabels:
    """Mixed into models whose fields have choices (before `models.Model` in the bases)."""

    def _get_FIELD_display(self, field):
        value = getattr(self, field.attname)
        return force_str(_labels(field).get(make_hashable(value), value), strings_only=True)
