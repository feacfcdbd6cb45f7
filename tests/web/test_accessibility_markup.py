"""Accessibility markup of the forms and pages (RGAA 4.1 / WCAG 2.1 AA audit): a form sent back with errors says so
in the page title and in a summary whose links lead to the fields; groups of boxes are fieldsets with a legend; help
texts and errors are tied to their fields; scrolling tables are named, focusable regions. The browser checks (axe,
focus, reflow) are in tests/e2e/test_accessibility.py."""

import datetime
import html
import re

import pytest
from django.urls import reverse

from parcours.models import HoursLine, Participant
from parcours.services import participants
from parcours.work.models import OPEN_TASK_STATUSES, TaskKind, WorkTask
from tests.factories import last_month

TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def title(body: str) -> str:
    return html.unescape(TITLE.search(body)[1]).strip()


def summary(body: str) -> str:
    """The error summary of the page (its opening tag and content)."""
    match = re.search(r'<div class="alert alert-danger error-summary"[^>]*>.*?</div>', body, re.S)
    assert match, "no error summary"
    return match[0]


def ids(body: str) -> set:
    return set(re.findall(r'\sid="([^"]+)"', body))


def assert_described_by_existing_ids(body: str):
    """Every aria-describedby of the page names elements that exist (a dangling id describes nothing)."""
    present = ids(body)
    for value in re.findall(r'aria-describedby="([^"]+)"', body):
        for name in value.split():
            assert name in present, f"aria-describedby points to a missing id: {name}"


def new_participant(site):
    site.counter += 1
    return participants.participant_create(
        actor=site.adviser,
        data={
            "first_name": f"Alix{site.counter}",
            "last_name": f"Rivière{site.counter}",
            "birth_date": datetime.date(2005, 2, 1),
            "postcode": "59000",
            "commune": "Lille",
            "qualification_level": "infra_3",
        },
    )


@pytest.fixture
def eligibility_task(site):
    participant = new_participant(site)
    return WorkTask.objects.get(
        pathway__participant=participant, kind=TaskKind.SUBMIT_ELIGIBILITY, status__in=OPEN_TASK_STATUSES
    )


# --- The task page: its forms rendered like the others ---------------------------------------------------------
def test_the_task_page_renders_the_criteria_as_a_fieldset_with_a_legend_and_classed_boxes(
    site, client, eligibility_task
):
    body = login(client, "conseillere").get(reverse("work:task", args=[eligibility_task.pk])).content.decode()
    fieldset = re.search(r'<fieldset id="id_submit_eligibility-criteria"[^>]*>(.*?)</fieldset>', body, re.S)
    assert fieldset, "the criteria are not a fieldset"
    assert re.search(r"<legend[^>]*>\s*Critères d&#x27;éligibilité", fieldset[1])
    boxes = re.findall(r'<input type="checkbox"[^>]*>', fieldset[1])
    assert len(boxes) >= 5 and all('class="form-check-input' in box for box in boxes)
    labels = re.findall(r'<label class="form-check-label" for="id_submit_eligibility-criteria_\d+">', fieldset[1])
    assert len(labels) == len(boxes)
    # The audit's defects: the group's wrapper drawn as a checkbox, a label tied to nothing.
    assert 'class="form-check-input" id="id_submit_eligibility-criteria"' not in body
    assert '<div id="id_submit_eligibility-criteria" class="form-check-input">' not in body
    assert 'for=""' not in body
    # The help texts are shown and tied to their fields.
    assert 'id="id_submit_eligibility-criteria_helptext"' in body
    assert 'aria-describedby="id_submit_eligibility-criteria_helptext"' in body
    assert_described_by_existing_ids(body)


def test_the_task_page_sent_with_errors_has_an_error_title_and_a_summary_linking_to_the_field(
    site, client, eligibility_task
):
    url = reverse("work:task", args=[eligibility_task.pk])
    response = login(client, "conseillere").post(url, {"action": "submit_eligibility"})
    assert response.status_code == 400
    body = response.content.decode()
    assert title(body).startswith("Erreur : ")
    box = summary(body)
    assert 'role="alert"' in box and 'tabindex="-1"' in box and "data-error-summary" in box
    assert 'href="#id_submit_eligibility-criteria_0"' in box and 'id="id_submit_eligibility-criteria_0"' in body
    # The error is tied to the group, and the old list markup (role=alert on a <ul>) is gone.
    assert re.search(r'<fieldset id="id_submit_eligibility-criteria" aria-describedby="[^"]*_error"', body)
    assert 'id="id_submit_eligibility-criteria_error"' in body
    assert '<ul class="errorlist" role="alert">' not in body
    assert_described_by_existing_ids(body)


def test_a_page_without_errors_has_no_error_title(site, client, eligibility_task):
    body = login(client, "conseillere").get(reverse("work:task", args=[eligibility_task.pk])).content.decode()
    assert not title(body).startswith("Erreur") and "data-error-summary" not in body


# --- The shared include: every form ----------------------------------------------------------------------------
def test_the_intake_form_sent_with_errors_lists_each_error_as_a_link_to_its_field(site, client):
    data = {"first_name": "", "last_name": "Martin", "birth_date": "2005-06-15", "postcode": "59", "commune": "Lille"}
    response = login(client, "conseillere").post(reverse("adviser:participant_create"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert title(body).startswith("Erreur : ")
    box = summary(body)
    links = re.findall(r'<a class="alert-link" href="#([^"]+)">', box)
    assert "id_first_name" in links and "id_postcode" in links
    for target in links:
        assert target in ids(body), f"the summary links to a missing field: {target}"
    # Each field in error: aria-invalid, its message with an id, the field described by it.
    first_name = re.search(r'<input[^>]*name="first_name"[^>]*>', body)[0]
    assert 'aria-invalid="true"' in first_name and "id_first_name_error" in first_name
    assert_described_by_existing_ids(body)
    # The star is explained once.
    assert body.count("Les champs marqués d'un * sont obligatoires.") == 1


def test_a_transition_form_sent_with_errors_is_announced(site, client):
    referral = site.participant().pathways.get().referrals.get()
    url = reverse("transition", args=["referral", referral.pk, "decline"])
    response = login(client, "facilitateur").post(url, {"reason": "   "})
    assert response.status_code == 400
    body = response.content.decode()
    assert title(body).startswith("Erreur : ")
    assert 'href="#id_reason"' in summary(body)
    assert_described_by_existing_ids(body)


def test_a_non_field_error_is_listed_in_the_summary(site, client, eligibility_task):
    from parcours.web.forms import FollowUpForm

    form = FollowUpForm({"kind": "", "done_on": ""}, planned=Participant.objects.none())
    form.is_valid()
    form.add_error(None, "Une erreur de tout le formulaire.")
    from django.template.loader import render_to_string

    rendered = render_to_string("includes/form_fields.html", {"form": form})
    box = summary(rendered)
    assert "<li>Une erreur de tout le formulaire.</li>" in box and 'href="#id_kind"' in box


def test_help_texts_carry_the_id_their_field_points_to(site, client):
    body = login(client, "conseillere").get(reverse("password_change")).content.decode()
    described = re.search(r'<input[^>]*name="new_password1"[^>]*>', body)[0]
    assert 'aria-describedby="id_new_password1_helptext"' in described
    helptext = re.search(r'<div class="form-text" id="id_new_password1_helptext">(.*?)</div>', body, re.S)
    assert helptext and "12 caractères" in helptext[1] and "<li></li>" not in helptext[1]
    assert_described_by_existing_ids(body)


# --- Login and password change -----------------------------------------------------------------------------------
def test_a_refused_login_is_announced_and_marks_the_fields(site, client):
    response = client.post(reverse("login"), {"username": "conseillere", "password": "pas-le-bon"})
    body = response.content.decode()
    assert title(body) == "Erreur : Connexion · Parcours"
    box = summary(body)
    assert 'role="alert"' in box and "Identifiant ou mot de passe incorrect." in box and 'href="#id_username"' in box
    for name in ("username", "password"):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', body)[0]
        assert 'class="form-control is-invalid"' in field and 'aria-invalid="true"' in field
        assert " autofocus" not in field  # the summary takes the focus
    assert '<label class="form-label fw-semibold" for="id_username">' in body
    assert_described_by_existing_ids(body)


def test_the_login_page_is_styled(site, client):
    body = client.get(reverse("login")).content.decode()
    assert title(body) == "Connexion · Parcours"
    assert re.search(r'<input class="form-control" id="id_username"[^>]*autofocus', body)
    assert 'class="btn btn-primary"' in body and "data-error-summary" not in body


def test_the_password_change_shows_the_rules_and_its_errors(site, client):
    response = login(client, "conseillere").post(
        reverse("password_change"), {"old_password": "x", "new_password1": "abc", "new_password2": "abd"}
    )
    body = response.content.decode()
    assert title(body).startswith("Erreur : ")
    box = summary(body)
    assert 'href="#id_old_password"' in box and 'href="#id_new_password2"' in box
    assert "id_new_password1_helptext" in body and "12 caractères" in body
    assert 'class="form-control is-invalid"' in body
    assert_described_by_existing_ids(body)


# --- Other pages -----------------------------------------------------------------------------------------------
def test_the_language_switch_has_a_submit_button_and_no_autosubmit(site, client):
    body = login(client, "conseillere").get(reverse("home")).content.decode()
    form = re.search(r'<form[^>]*>(?:(?!</form>).)*id="language".*?</form>', body, re.S)[0]
    assert "data-autosubmit" not in form and '<button type="submit"' in form


def test_the_participant_search_announces_a_short_status_not_the_table(site, client):
    body = login(client, "conseillere").get(reverse("adviser:participants")).content.decode()
    rows = re.search(r'<div id="participant-rows"[^>]*>', body)[0]
    assert "aria-live" not in rows and 'data-search-status="participant-search-status"' in rows
    assert re.search(r'<div id="participant-search-status"[^>]*role="status"[^>]*aria-live="polite"', body)
    partial = client.get(reverse("adviser:participants"), {"q": "!!!"}, HTTP_HX_REQUEST="true").content.decode()
    assert "data-search-error=" in partial and "data-found=" in partial


def test_the_facilitator_dashboard_tables_scroll_in_named_focusable_regions(site, client):
    body = login(client, "facilitateur").get("/tableau-de-bord/").content.decode()
    regions = re.findall(r'<div class="table-responsive"[^>]*>', body)
    assert len(regions) >= 2
    for region in regions:
        assert 'tabindex="0"' in region and 'role="region"' in region and "aria-labelledby=" in region
    publics = body.index('id="publics"')
    assert body.rfind('<div class="table-responsive"', 0, publics) > body.rfind("</div>", 0, publics)
    assert_described_by_existing_ids(body)
    for label in re.findall(r'aria-labelledby="([^"]+)"', body):
        assert all(name in ids(body) for name in label.split())


def test_tables_have_captions(site, client):
    participant = site.participant(hired=True)
    body = login(client, "conseillere").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    for table in re.findall(r"<table[^>]*>\s*(?:<caption|<thead)", body):
        assert table.rstrip().endswith("<caption"), "a table of the file has no caption"
    body = client.get(reverse("notifications")).content.decode()
    assert re.search(r"<table[^>]*>\s*<caption", body)


def test_page_titles_name_their_subject(site, client):
    participant = site.participant()
    referral = participant.pathways.get().referrals.get()
    login(client, "conseillere")
    assert participant.first_name in title(client.get(reverse("referral_detail", args=[referral.pk])).content.decode())
    edit = reverse("adviser:participant_update", args=[participant.pk])
    assert participant.first_name in title(client.get(edit).content.decode())
    login(client, "auditeur")
    assert title(client.get(reverse("auditor:pathways")).content.decode()) != "Parcours · Parcours"


def test_the_actions_are_a_named_group(site, client):
    participant = site.participant()
    body = login(client, "conseillere").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert 'role="group" aria-label="Actions possibles"' in body
    assert body.count('aria-label="Actions possibles"') == body.count('role="group" aria-label="Actions possibles"')


def test_a_refused_month_action_says_error_in_the_title(site, client):
    site.participant(hired=True)
    month = last_month()
    login(client, "facilitateur")
    page = client.get(reverse("facilitator:month", args=[site.lot.pk]), {"mois": f"{month:%Y-%m}"}).content.decode()
    assert not title(page).startswith("Erreur")
    assert re.search(
        r'<div class="table-responsive" tabindex="0" role="region" aria-labelledby="month-lines-caption"', page
    )
    response = client.post(
        reverse("facilitator:month_action", args=[site.lot.pk]), {"mois": f"{month:%Y-%m}", "action": "inconnue"}
    )
    body = response.content.decode()
    assert response.status_code >= 400 and title(body).startswith("Erreur : ")


def test_a_rejection_without_its_reason_is_said_at_the_reason_field(site, client):
    """Found from outside: « Motif du rejet : obligatoire. » was said at the top of the page only, the field neither
    marked nor described nor focused."""
    site.participant(hired=True)
    month = last_month()
    login(client, "facilitateur")
    line = HoursLine.objects.get(placement__lot=site.lot, month=month)
    HoursLine.objects.filter(pk=line.pk).update(state="declared", validated_at=None)
    response = client.post(
        reverse("facilitator:month_action", args=[site.lot.pk]),
        {"mois": f"{month:%Y-%m}", "action": "reject", "lines": [line.pk], "reason": " "},
    )
    body = html.unescape(response.content.decode())
    assert response.status_code == 400
    field = re.search(r'<input [^>]*id="reason"[^>]*>', body).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="reason-error"' in field and "autofocus" in field
    assert '<div class="invalid-feedback d-block" id="reason-error">Motif du rejet : obligatoire.</div>' in body
    assert HoursLine.objects.get(pk=line.pk).state == "declared"


def test_a_required_select_without_an_empty_choice_is_marked_required_for_assistive_technologies():
    from django import forms
    from django.template.loader import render_to_string

    from parcours.web.forms import BootstrapFormMixin

    class Form(BootstrapFormMixin, forms.Form):
        kind = forms.ChoiceField(label="Type", choices=[("a", "A"), ("b", "B")])
        other = forms.ChoiceField(label="Autre", choices=[("", "—"), ("a", "A")])

    rendered = render_to_string("includes/form_fields.html", {"form": Form()})
    kind = re.search(r'<select name="kind"[^>]*>', rendered)[0]
    other = re.search(r'<select name="other"[^>]*>', rendered)[0]
    assert 'aria-required="true"' in kind and " required" not in kind  # HTML wants an empty first option for it
    assert " required" in other and "aria-required" not in other


@pytest.mark.parametrize(
    "username, url",
    [
        ("facilitateur", "/tableau-de-bord/"),
        ("facilitateur", "/facilitation/registre/"),
        ("conseillere", "/workflows/"),
    ],
)
def test_the_named_scrolling_regions_have_unique_ids_and_names(site, client, username, url):
    body = login(client, username).get(url).content.decode()
    found = re.findall(r'\sid="([^"]+)"', body)
    assert len(found) == len(set(found)), sorted({i for i in found if found.count(i) > 1})
    for name in re.findall(r'role="region" aria-labelledby="([^"]+)"', body):
        assert name in found
