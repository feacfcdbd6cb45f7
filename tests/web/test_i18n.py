"""French by default; English through Django i18n (the compiled catalogue is committed)."""

from django.urls import reverse


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
