"""Calendar arithmetic of the case data (pure functions, below everything of the case app)."""

import datetime
import re

from django.utils import timezone, translation
from django.utils.dates import MONTHS

MONTH_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}")  # AAAA-MM, ASCII digits (strptime takes "2026-3" and "0001-01")


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_label(month: datetime.date, *, language: str | None = None) -> str:
    """2026-03-01 → "mars 2026" in French, "March 2026" in English: Django's month names (its own catalogue, the
    French ones lower case) in the active language, or in `language` (a document that stays French passes "fr")."""
    if language is not None:
        with translation.override(language):
            return month_label(month)
    return f"{MONTHS[month.month]} {month.year}"


def last_day_of_month(day: datetime.date) -> datetime.date:
    return add_months(day.replace(day=1), 1) - datetime.timedelta(days=1)


def previous_month(day: datetime.date) -> datetime.date:
    return add_months(day.replace(day=1), -1)


def working_days(first: datetime.date, last: datetime.date) -> int:
    """Monday-to-Friday days from `first` to `last` included (public holidays are not subtracted)."""
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    return weeks * 5 + sum(1 for n in range(rest) if (first + datetime.timedelta(days=weeks * 7 + n)).weekday() < 5)


def months_between(first: datetime.date, last: datetime.date) -> list:
    """The first days of the months from `first`'s month to `last`'s month included."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def month_from_text(text, *, earliest: datetime.date, latest: datetime.date) -> datetime.date | None:
    """`AAAA-MM` as the first day of that month, if it falls between `earliest` and `latest`; else None."""
    if not isinstance(text, str) or not MONTH_TEXT.fullmatch(text):
        return None
    try:
        month = datetime.date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        return None
    return month if earliest <= month <= latest else None


def latest_month(years_ahead: int = 10) -> datetime.date:
    """The last month an address may name (a statement's, a report's): December, `years_ahead` years from now."""
    return datetime.date(timezone.localdate().year + years_ahead, 12, 1)
