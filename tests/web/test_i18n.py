"""French by default; English through Django i18n (the compiled catalogue is committed)."""

import pathlib
import re

from django.conf import settings
from django.urls import reverse
from django.utils.translation import trans_real


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
