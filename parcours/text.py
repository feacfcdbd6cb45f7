"""Text folding for search and duplicate detection: accents, case, hyphens and apostrophes do not tell people apart.

`fold("Inès Benali-Moreau")` → `"ines benali moreau"`. The same folding is stored in `Participant.search_text`
(searched with a plain LIKE, backed by a GIN trigram index on PostgreSQL) and computed by the database for short
columns through `Folded` (PostgreSQL: `unaccent` + `lower`; SQLite: the `parcours_fold` function registered on each
connection by parcours.apps). `identity_key` is the normalised identity used to spot a possible duplicate.
"""

import datetime
import re
import unicodedata

from django.db.models import CharField, Func
from django.utils import translation

ID_MAX = 2**63 - 1  # a BigAutoField's (parcours.converters.MAX_ID, the layer beside this one)
_SEPARATORS = re.compile(r"[^0-9a-z]+")
# Letters that NFKD does not decompose into a base letter and an accent.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l", "ı": "i"})


def fold(text) -> str:
    """Lower case, without accents, every run of other characters (hyphen, apostrophe, space…) as one space."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", str(text).casefold().translate(_LIGATURES))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _SEPARATORS.sub(" ", text).strip()


def plain_id(text) -> int | None:
    """`text` as a database id (1 to 2^63 − 1) when it is written in ASCII digits, else None. `str.isdigit` takes
    "²" (which `int` refuses: a 500) and "١" (which `int` reads as 1); past a bigint the database refuses it."""
    text = str(text)
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= ID_MAX else None


def pseudonym_number(word) -> int | None:
    """The file number a search word names (`P-000123`, `123`): ASCII digits only (`str.isdigit` takes "²", which
    `int` refuses) and a possible id (a 20-digit number overflowed the database's integer)."""
    return plain_id(str(word).upper().removeprefix("P-").lstrip("0"))


def search_words(query) -> list[str]:
    """The folded words of a search box (each must be found)."""
    return fold(query).split()


def identity_key(first_name, last_name, birth_date) -> str:
    """Same person, as far as names and birth date can tell: accents, case, hyphens, spaces and the order of first
    and last name do not count. "Inès Benali" born 2005-06-15 and "BENALI Ines" born the same day share a key."""
    if not (first_name and last_name and isinstance(birth_date, datetime.date)):
        return ""
    names = sorted(fold(name).replace(" ", "") for name in (first_name, last_name))
    return f"{birth_date.isoformat()}|{names[0]}|{names[1]}"


class Folded(Func):
    """A column folded by the database like `fold` does (for short columns searched without an index)."""

    function = "parcours_fold"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        # translate() turns hyphens and apostrophes into spaces, like fold(); unaccent() needs its extension
        # (migration 0007), lower() after it.
        return self.as_sql(
            compiler,
            connection,
            template="lower(unaccent(translate(%(expressions)s, '-''’', '   ')))",
            **extra_context,
        )


def sqlite_fold(value):
    """`parcours_fold(text)` for SQLite (registered on each new connection)."""
    return None if value is None else fold(value)


# --- French elision ------------------------------------------------------------------------------------------------
_ELIDING = set("AEIOUÀÂÄÆÉÈÊËÎÏÔÖŒÙÛÜaeiouàâäæéèêëîïôöœùûü")


def _elides(name: str) -> bool:
    """Before a vowel sound: a vowel, or a Y sounded as one (« d’Yves », « de Yanis »: before a vowel, Y is [j])."""
    first, second = name[:1], name[1:2]
    if first in "Yy":
        return bool(second) and second not in _ELIDING
    return first in _ELIDING


def of_name(value) -> str:
    """ "de Noémie", "d’Enzo", "d’octobre 2026": French elision before a vowel (not before h, aspirated in many
    names). In other languages the bare name (their sentence carries its own preposition)."""
    name = str(value or "")
    language = translation.get_language()
    if language is not None and not str(language).startswith("fr"):
        return name
    return f"d’{name}" if _elides(name) else f"de {name}"
