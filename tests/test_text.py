"""Folding for search and the normalised identity key (parcours.text)."""

import datetime
import types

import pytest
from django.template import Context, Template
from django.utils import translation

from parcours.selectors.statements import reminder_refusal
from parcours.templatetags.parcours_tags import labelled, of_name
from parcours.text import fold, identity_key, search_words

BORN = datetime.date(2005, 6, 15)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Inès", "ines"),
        ("BENALI-Moreau", "benali moreau"),
        ("N'Diaye", "n diaye"),
        ("Zoë  Lefèvre", "zoe lefevre"),
        ("Œuvray Ægir", "oeuvray aegir"),
        ("Çağlar Straße", "caglar strasse"),
        ("", ""),
        (None, ""),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


def test_search_words_are_folded():
    assert search_words("  INÈS  benali-moreau ") == ["ines", "benali", "moreau"]


@pytest.mark.parametrize(
    ("first", "last"),
    [("Ines", "Benali"), ("INÈS", "benali"), ("Benali", "Inès"), ("Inès", "Ben-Ali"), ("inès ", " BEN ALI")],
)
def test_identity_key_ignores_accents_case_hyphens_and_order(first, last):
    assert identity_key(first, last, BORN) == identity_key("Inès", "Benali", BORN) != ""


def test_identity_key_tells_people_apart():
    key = identity_key("Inès", "Benali", BORN)
    assert identity_key("Inès", "Benali", BORN + datetime.timedelta(days=1)) != key
    assert identity_key("Agnès", "Benali", BORN) != key
    assert identity_key("", "Benali", BORN) == ""
    assert identity_key("Inès", "Benali", "2005-06-15") == ""


@pytest.mark.parametrize(
    ("name", "french"),
    [
        ("Enzo", "d’Enzo"),
        ("Élodie", "d’Élodie"),
        ("Inès", "d’Inès"),
        ("Noémie", "de Noémie"),
        ("Hugo", "de Hugo"),
        # Y before a vowel is [j] (QA: « Éligibilité d’Yanis »); before a consonant, a vowel.
        ("Yanis", "de Yanis"),
        ("Yasmine", "de Yasmine"),
        ("Yves", "d’Yves"),
        ("Y", "de Y"),
    ],
)
def test_of_name_elides_before_a_vowel_in_french_only(name, french):
    with translation.override("fr"):
        assert of_name(name) == french
    with translation.override("en"):
        assert of_name(name) == name


def test_plain_id_reads_ascii_digits_of_a_possible_id_only():
    from parcours.text import plain_id

    assert plain_id("42") == 42 and plain_id(42) == 42 and plain_id("9223372036854775807") == 2**63 - 1
    for junk in ("²", "١", "٣٢", "１", "", "0", "-3", "4.0", " 4", "9223372036854775808", "99999999999999999999"):
        assert plain_id(junk) is None, junk


@pytest.mark.parametrize(
    "value, printed",
    [
        (datetime.date(2026, 3, 9), "09/03/2026"),
        (datetime.datetime(2026, 12, 6, 23, 30, tzinfo=datetime.UTC), "07/12/2026"),  # already the 7th in Paris
        (datetime.datetime(2026, 7, 1, 21, 59, tzinfo=datetime.UTC), "01/07/2026"),  # summer time: 23:59 in Paris
        (datetime.datetime(2026, 1, 1, 0, 5), "01/01/2026"),  # a naive moment is taken as it is
        (None, ""),
        ("", ""),
        ("2026-01-01", ""),  # not a date: nothing, as the date filter
    ],
)
def test_day_prints_what_the_date_filter_prints(value, printed):
    """`|day` is `|date:"d/m/Y"` without its format machinery (the lists print one per row), in Paris time."""
    rendered = Template('{% load parcours_tags %}{{ v|day }}|{{ v|date:"d/m/Y" }}').render(Context({"v": value}))
    assert rendered == f"{printed}|{printed}"


@pytest.mark.parametrize(
    "error, label, shown",
    [
        ("5 chiffres attendus.", "Code postal", "Code postal : 5 chiffres attendus."),
        ("Code postal : 5 chiffres attendus.", "Code postal", "Code postal : 5 chiffres attendus."),
        ("Code postal\u00a0: 5 chiffres attendus.", "Code postal", "Code postal\u00a0: 5 chiffres attendus."),
        ("Postcode: 5 digits expected.", "Postcode", "Postcode: 5 digits expected."),  # English, no space
        ("Code postaux manquants.", "Code postal", "Code postal : Code postaux manquants."),  # not the label
    ],
)
def test_the_error_summary_names_a_field_once(error, label, shown):
    with translation.override("fr"):
        assert labelled(error, label) == shown


def test_the_error_summary_spaces_its_colon_in_french_only():
    """Found from outside: the English summary read « Email : … » (French typography)."""
    with translation.override("en"):
        assert labelled("Enter a valid email address.", "Email") == "Email: Enter a valid email address."
    with translation.override("fr"):
        assert labelled("Adresse invalide.", "Courriel") == "Courriel : Adresse invalide."


def test_the_services_messages_elide_a_month_as_the_titles_do():
    """« Le relevé de octobre 2026 » in the services' messages (the page titles already elided): now « d’octobre »."""
    lot = types.SimpleNamespace(awardee_id=1, month_in_execution_window=lambda month: True)
    today = datetime.date(2026, 12, 7)

    def refused(month):
        return reminder_refusal(lot=lot, month=month, today=today, contracts_ran=True, submitted=True, closed=False)

    with translation.override("fr"):
        assert refused(datetime.date(2026, 10, 1)).message == "Le relevé d’octobre 2026 a déjà été déclaré."
        assert refused(datetime.date(2026, 3, 1)).message == "Le relevé de mars 2026 a déjà été déclaré."
    with translation.override("en"):
        assert refused(datetime.date(2026, 10, 1)).message == "The statement for October 2026 was already declared."
