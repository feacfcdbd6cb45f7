"""Template helpers that apply a read rule the view already decided (never a rule of their own)."""

from django import template
from django.utils import formats, translation
from django.utils.html import format_html

from parcours.counting import hours_text, plain

register = template.Library()


@register.simple_tag(takes_context=True)
def participant_name(context, participant, order="last_first"):
    """The young person's name, or their pseudonym for a viewer who reads files without identity (a buyer's
    auditor without named access: `identity_hidden`, set by parcours.web.context_processors)."""
    if participant is None:
        return ""
    if context.get("identity_hidden"):
        return format_html('<span class="font-monospace">{}</span>', participant.pseudonym)
    if order == "first_last":
        return format_html("{} {}", participant.first_name, participant.last_name.upper())
    return format_html("{} {}", participant.last_name.upper(), participant.first_name)


_ELIDING = set("AEIOUÀÂÄÆÉÈÊËÎÏÔÖŒÙÛÜaeiouàâäæéèêëîïôöœùûü")


def _elides(name: str) -> bool:
    """Before a vowel sound: a vowel, or a Y sounded as one (« d’Yves », « de Yanis »: before a vowel, Y is [j])."""
    first, second = name[:1], name[1:2]
    if first in "Yy":
        return bool(second) and second not in _ELIDING
    return first in _ELIDING


@register.filter
def of_name(value):
    """"de Noémie", "d’Enzo": French elision before a vowel (not before h, aspirated in many names). In other
    languages the bare name (their sentence carries its own preposition)."""
    name = str(value or "")
    if translation.get_language() not in (None, "fr") and not str(translation.get_language()).startswith("fr"):
        return name
    return f"d’{name}" if _elides(name) else f"de {name}"


@register.filter
def quantity(value):
    """17.50 → "17,5", 35.00 → "35" (in English "17.5"): a decimal without its trailing zeros, in the page's
    language (weekly hours; `floatformat` would print "17,50")."""
    return "" if value in (None, "") else formats.number_format(plain(value))


@register.filter
def hours(value):
    """4476.20 → "4 476,2 h": hours as every page and report shows them (parcours.counting.hours_text)."""
    return hours_text(value)
