"""Text that people type, made safe to store and to show: NFC, no control or direction-override characters, no
name made only of invisible characters, ASCII digits where a number is meant (`\\d` matches any Unicode digit:
"١٢٣٤٥" passed for a postcode)."""

import re
import unicodedata

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.errors import DomainError

# Explicit direction embeddings, overrides and isolates, and the implicit marks: they reorder what is shown
# (a file name, an amount) without being seen. French text never needs them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
MULTILINE_WHITESPACE = frozenset("\n\r\t")
# Letters and symbols that show nothing (Hangul fillers, the blank Braille pattern): a text made only of them, or of
# format characters (zero-width space, joiners, BOM) and spaces, looks empty but is not.
BLANK_GRAPHICS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
POSTCODE_RE = re.compile(r"[0-9]{5}", re.ASCII)
PHONE_RE = re.compile(r"\+?[0-9 .\-()]{6,20}", re.ASCII)


def _refuse(field, label, message, code="invalid_input"):
    return DomainError(code, _("%(label)s : %(message)s") % {"label": label, "message": message}, field=field)


def clean_text(value: str, *, field: str, label: str, multiline: bool = False) -> str:
    """NFC-normalised and stripped; control characters (except line breaks and tabs when `multiline`), direction
    controls, unassigned code points and a text with nothing visible (zero-width spaces…) refused."""
    value = unicodedata.normalize("NFC", value).strip()
    for char in value:
        if char in BIDI_CONTROLS:
            raise _refuse(field, label, _("caractère de contrôle de sens d'écriture interdit."))
        category = unicodedata.category(char)
        if category == "Cc" and not (multiline and char in MULTILINE_WHITESPACE):
            raise _refuse(field, label, _("caractère de contrôle interdit."))
        if category in ("Cs", "Co", "Cn"):
            raise _refuse(field, label, _("caractère non valide."))
    if value and not any(is_visible(char) for char in value):
        raise _refuse(field, label, _("texte invisible : au moins un caractère visible attendu."))
    return value


def is_visible(char: str) -> bool:
    """A letter, digit, punctuation mark or symbol that shows something (not a space, a format character such as a
    zero-width space, a combining mark on its own or a blank filler)."""
    return unicodedata.category(char)[0] in "LNPS" and char not in BLANK_GRAPHICS


def clean_name(value: str, *, field: str, label: str) -> str:
    """A person's or a place's name: clean text on one line, with at least one letter (not only invisible
    characters such as zero-width spaces) and no invisible format character at all."""
    value = clean_text(value, field=field, label=label)
    if any(unicodedata.category(char) == "Cf" for char in value):
        raise _refuse(field, label, _("caractère invisible interdit."))
    if not any(unicodedata.category(char).startswith("L") for char in value):
        raise _refuse(field, label, _("au moins une lettre attendue."))
    return value


def clean_postcode(value: str, *, field: str = "postcode", label: str = gettext_lazy("Code postal")) -> str:
    value = clean_text(value, field=field, label=label)
    if not POSTCODE_RE.fullmatch(value):
        raise _refuse(field, label, _("5 chiffres attendus (0 à 9)."))
    return value


def clean_phone(value: str, *, field: str = "phone", label: str = gettext_lazy("Téléphone")) -> str:
    value = clean_text(value, field=field, label=label)
    if value and not (PHONE_RE.fullmatch(value) and sum(c.isdigit() for c in value) >= 6):
        raise _refuse(field, label, _("chiffres de 0 à 9, espaces, points, tirets et « + » seulement."))
    return value
