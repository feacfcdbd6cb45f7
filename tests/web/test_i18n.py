"""French by default; English through Django i18n (the compiled catalogue is committed)."""

import ast
import html
import pathlib
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real
from django.utils.translation.template import templatize

from parcours.web.nav import COMMON, MENU
from parcours.work.models import TaskKind
from roles.enums import Role
from workflows import engine
from workflows.errors import DomainError
from workflows.states import HoursLineState, PathwayState, PlacementState, ReferralState
from workflows.transitions import MACHINES


def test_french_by_default_and_english_on_request(site, client):
    client.login(username="conseillere", password="demo")
    body = client.get(reverse("home")).content.decode()
    assert "Se déconnecter" in body and 'lang="fr"' in body
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert response.status_code == 302
    body = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in body
    assert "Se déconnecter" not in body and "Log out" in body


def test_unknown_language_is_ignored(site, client):
    client.login(username="conseillere", password="demo")
    client.post(reverse("set_language"), {"language": "xx", "next": reverse("home")})
    assert 'lang="fr"' in client.get(reverse("home")).content.decode()


def test_every_template_string_is_in_the_english_catalogue():
    """A `{% translate %}` string missing from the compiled catalogue (new, changed or fuzzy) fails here: run
    `python manage.py makemessages -l en`, translate, then `msgfmt -o django.mo django.po` (or compilemessages)."""
    catalogue = trans_real.translation("en")._catalog
    pattern = re.compile(r"""{%\s*(?:translate|trans)\s+("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
    missing = []
    for path in sorted(pathlib.Path(settings.BASE_DIR, "templates").rglob("*.html")):
        for literal in pattern.findall(path.read_text()):
            text = literal[1:-1]
            if not catalogue.get(text):
                missing.append(f"{path.name}: {text}")
    assert not missing, missing


# --- Every string marked for translation has an English entry ------------------------------------------------------
# The Python sources and templates whose strings people read (tests, migrations and the virtualenv are not).
SOURCE_DIRS = ("parcours", "workflows", "roles")
GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
CONTEXT_CALLS = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}


def _strings(call_name, args):
    """The catalogue key of one gettext-family call (None when its arguments are not literals)."""
    if not args or not all(isinstance(a, str) for a in args):
        return None
    if call_name in CONTEXT_CALLS:
        context, msgid = args[0], args[1]
        key = f"{context}\x04{msgid}"
        return (key, 0) if call_name.startswith("n") else key
    return (args[0], 0) if call_name.startswith("n") else args[0]


def python_keys(source: str, where: str = "") -> list:
    """(where, catalogue key) of every literal passed to gettext & co. in Python source."""
    keys = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in GETTEXT_CALLS | CONTEXT_CALLS:
            continue
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        key = _strings(name, args[:2] if name.startswith(("n", "p")) else args[:1])
        if key is not None:
            keys.append((f"{where}:{node.lineno}", key))
    return keys


# What Django's templatize (the template reader of makemessages) writes for each {% translate %} and
# {% blocktranslate %} (plurals, contexts): gettext-family calls on string literals, amid blanked-out text.
TEMPLATIZED_CALL = re.compile(
    r"\b(gettext|ngettext|pgettext|npgettext|_)\(((?:\s*u?(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*,?)+)"
)
LITERAL = re.compile(r"u?('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def template_keys(source: str, where: str = "") -> list:
    """(where, catalogue key) of every translatable string of a template, read the way makemessages reads it."""
    keys = []
    for match in TEMPLATIZED_CALL.finditer(templatize(source, origin=where or None)):
        args = [ast.literal_eval(literal) for literal in LITERAL.findall(match[2])]
        key = _strings(match[1], args)
        if key is not None:
            keys.append((where, key))
    return keys


def application_keys() -> list:
    keys = []
    for directory in SOURCE_DIRS:
        for path in sorted(pathlib.Path(settings.BASE_DIR, directory).rglob("*.py")):
            if "migrations" not in path.parts:
                keys += python_keys(path.read_text(), str(path.relative_to(settings.BASE_DIR)))
    for path in sorted(pathlib.Path(settings.BASE_DIR, "templates").rglob("*.html")):
        keys += template_keys(path.read_text(), str(path.relative_to(settings.BASE_DIR)))
    return keys


def untranslated(keys) -> list:
    catalogue = trans_real.translation("en")._catalog
    return sorted({f"{where}: {key!r}" for where, key in keys if not catalogue.get(key)})


def test_every_python_and_template_string_is_translated_in_the_english_catalogue():
    """A string marked for translation (Python or template) missing from the compiled English catalogue — new,
    changed, fuzzy or left empty — fails here. Fix: `python manage.py makemessages -l en`, translate the new
    entries in locale/en/LC_MESSAGES/django.po, then `python manage.py compilemessages -l en` (the .mo is
    committed)."""
    keys = application_keys()
    assert len(keys) > 700  # the collectors do see the code (a broken collector would pass on nothing)
    missing = untranslated(keys)
    assert not missing, missing


def test_the_catalogue_check_fails_on_a_string_without_an_english_entry():
    python = python_keys(
        "from django.utils.translation import gettext as _, gettext_lazy, ngettext\n"
        'LABEL = gettext_lazy("Accueil")\n'
        'raise DomainError("x", _("Une phrase ajoutée sans traduction : %(n)s.") % {"n": 1})\n'
        'ngettext("%(n)s jeune", "%(n)s jeunes", 2)\n',
        "example.py",
    )
    template = template_keys(
        "{% load i18n %}{% translate 'Jeunes' %}{% blocktranslate count n=k %}{{ n }} pomme{% plural %}{{ n }} "
        "pommes{% endblocktranslate %}{% blocktranslate with d=day %}Cueillie le {{ d }}{% endblocktranslate %}",
        "example.html",
    )
    assert {key for _, key in python} == {"Accueil", "Une phrase ajoutée sans traduction : %(n)s.", ("%(n)s jeune", 0)}
    assert [key for _, key in template] == ["Jeunes", ("%(n)s pomme", 0), "Cueillie le %(d)s"]
    assert untranslated(python + template) == [
        "example.html: 'Cueillie le %(d)s'",
        "example.html: ('%(n)s pomme', 0)",
        "example.py:3: 'Une phrase ajoutée sans traduction : %(n)s.'",
    ]


# --- Python-side labels and messages in both languages -------------------------------------------------------------
def test_state_and_transition_labels_follow_the_active_language():
    hire = MACHINES["referral"]["hire"]
    with translation.override("fr"):
        assert (str(PathwayState.PLACED.label), str(hire.label)) == ("En poste", "Confirmer l'embauche")
    with translation.override("en"):
        assert (str(PathwayState.PLACED.label), str(hire.label)) == ("In employment", "Confirm the hire")
        assert [str(i.label) for i in hire.inputs][:2] == ["Contract type", "Start date"]
    # The codes (what the journal, the API's machine-readable fields and the database keep) never change.
    assert (PathwayState.PLACED.value, hire.name, hire.action) == ("placed", "hire", "referral.hire")


class _Referral:
    MACHINE = "referral"
    state = ReferralState.FORWARDED


REFUSALS = {
    "fr": "Action « Transmettre à l'employeur » impossible : l'état actuel est « Transmis à l'employeur ». "
    "Quelqu'un a peut-être agi avant vous.",
    "en": "Action “Forward to the employer” impossible: the current state is “Forwarded to the employer”. "
    "Someone may have acted before you.",
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_refusal_is_worded_in_the_language_of_the_request(language):
    with translation.override(language), pytest.raises(DomainError) as refused:
        engine.spec_for(_Referral, "forward") and engine._check_state(_Referral, engine.spec_for(_Referral, "forward"))
    assert refused.value.code == "invalid_transition"  # the stable code does not depend on the language
    assert refused.value.message == REFUSALS[language]


@pytest.mark.parametrize(
    "language, state, absent",
    [("fr", "Transmis à l'employeur", "Forwarded to the employer"), ("en", "Forwarded to the employer", "Transmis")],
)
def test_a_stale_click_on_a_page_shows_the_refusal_and_the_state_in_the_chosen_language(
    site, client, language, state, absent
):
    referral = site.participant().pathways.get().referrals.get()
    client.login(username="facilitateur", password="demo")
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    url = reverse("referral_detail", args=[referral.pk])
    for name in ("start_review", "approve", "forward"):
        client.post(reverse("transition", args=["referral", referral.pk, name]), {"next": url})
    response = client.post(
        reverse("transition", args=["referral", referral.pk, "forward"]), {"next": url}, follow=True
    )
    body = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert REFUSALS[language] in body and state in body and absent not in body
    referral.refresh_from_db()
    assert referral.state == "forwarded"  # stored as its code, whatever the language of the page
    event = referral.journal_events.order_by("-sequence").first() if hasattr(referral, "journal_events") else None
    assert event is None or (event.to_state, event.action) == ("forwarded", "referral.forward")


def _french_labels():
    """The French labels of states, transitions, task kinds, roles and the menu whose English differs."""
    enums = (PathwayState, ReferralState, PlacementState, HoursLineState, TaskKind, Role)
    lazy = [state.label for enum in enums for state in enum]
    lazy += [spec.label for table in MACHINES.values() for spec in table.values() if spec.user_fireable]
    lazy += [label for entries in [*MENU.values(), COMMON] for _, label in entries]
    pairs = []
    for label in lazy:
        with translation.override("fr"):
            french = str(label)
        with translation.override("en"):
            english = str(label)
        if french != english:
            pairs.append((french, english))
    return pairs


@pytest.mark.parametrize(
    "username, page", [("conseillere", "participant_detail"), ("facilitateur", "referral_detail")]
)
def test_a_file_page_in_english_shows_no_french_label(site, client, username, page):
    """States, actions, roles, task kinds and the menu of a file page (history included) all speak English."""
    participant = site.participant(hired=True)
    referral = participant.pathways.get().referrals.get()
    client.login(username=username, password="demo")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    pk = participant.pk if page == "participant_detail" else referral.pk
    body = html.unescape(client.get(reverse(page, args=[pk])).content.decode())
    # What is not a label: the product's name and the people's names (the site's users are named after their role).
    body = body.replace(">Parcours<", "><").replace("· Parcours<", "<")
    for user in User.objects.all():
        body = body.replace(user.get_full_name() or user.username, "")
    labels = _french_labels()
    assert len(labels) > 60
    left = sorted({french for french, _ in labels if re.search(rf"(?<!\w){re.escape(french)}(?!\w)", body)})
    assert not left, left
    if page == "participant_detail":
        assert "In employment" in body and "Confirm the hire" in body
        assert "Pathway #" in body  # one pathway in the history (not the menu's "Pathways")
    else:
        assert "Hired" in body
