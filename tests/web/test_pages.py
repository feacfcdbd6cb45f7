"""Role home pages, participant file, referral page, organisation switch: scope, access log, query counts."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcours.models import ParticipantAccess
from parcours.services import pathways, referrals, tasks
from parcours.work.models import TaskKind, WorkTask
from roles.enums import Role
from roles.models import Membership
from workflows.diagrams import GUARD_RULES
from workflows.transitions import all_specs

# session, user, memberships, the work summary (counts, next actions) for roles receiving tasks, then the role's
# lists: each a page of ten rows, one count and one slice whatever the number of rows (an empty list needs no
# slice: employeur.b sees none of these rows, the facilitator has no declared hours to validate, the employer no
# hours declared); the lots' counted hours read from their summaries in two more (parcours.selectors.lot_hours).
# The facilitator's referrals waiting for review take their total from the counts by state (no COUNT of their own).
HOME_QUERIES = {
    "conseillere": 9,
    "conseiller.b": 9,
    "facilitateur": 16,  # its referrals to review choose their ids first
    "employeur": 14,  # its lists choose their ids first: one statement more for each list with rows
    "employeur.b": 9,
    "auditeur": 9,
}
ALL_LOGINS = ["conseillere", "conseiller.b", "facilitateur", "employeur", "employeur.b", "auditeur"]


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def home_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("username", ALL_LOGINS)
def test_home_query_count_does_not_grow_with_rows(site, client, username):
    site.participant(hired=True)
    site.participant(adviser=site.adviser_b)
    login(client, username)
    home_queries(client)  # the first request stores the current organisation in the session
    before, _ = home_queries(client)
    for _ in range(4):
        site.participant(hired=True)
        site.participant(adviser=site.adviser_b, hired=True)
    home_queries(client)  # hires stale their lots' counted hours: recounted once at a fixed cost (test_lot_hours)
    after, response = home_queries(client)
    assert after == before, f"{username}: {before} queries with 2 participants, {after} with 10"
    assert after == HOME_QUERIES[username]


@pytest.mark.parametrize("username", ["conseillere", "facilitateur", "employeur", "auditeur"])
def test_home_lists_join_only_what_they_show(site, client, username):
    """A home list's page joins the rows its table shows (selectors.HOME_ROWS), not the list pages' whole chain:
    no operation, buyer or referent adviser columns are read (they cost planning time for ten rows)."""
    site.participant(hired=True)
    login(client, username)
    home_queries(client)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    pages = [q["sql"] for q in ctx.captured_queries if re.search(r"LIMIT \d+$", q["sql"]) and "COUNT(" not in q["sql"]]
    shown = r'FROM "parcours_(referral|placement|hoursline|joboffer|pathway)"'
    listed = [sql for sql in pages if re.search(shown, sql)]
    assert listed, pages
    for sql in listed:
        select = sql.split(" FROM ", 1)[0]
        assert '"parcours_operation".' not in select and '"parcours_publiccontract"."buyer_id"' not in select, sql
        assert '"auth_user".' not in select, sql  # the referent adviser is not shown on a home list


def test_home_lists_are_paged_with_a_fixed_query_count(site, client):
    for _ in range(12):
        site.participant()
    login(client, "conseillere")
    home_queries(client)
    first, response = home_queries(client)
    body = response.content.decode()
    assert "Page 1 sur 2" in body and 'href="?parcours=2#parcours"' in body and "Tous les jeunes" in body
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("home"), {"parcours": 2, "positionnements": 2})
    body = response.content.decode()
    assert len(ctx.captured_queries) == first
    assert "Page 2 sur 2" in body
    # The other list's page is kept in the links of this one.
    assert 'href="?parcours=1&amp;positionnements=2#parcours"' in body
    # A page out of range shows the last one, never an error.
    assert client.get(reverse("home"), {"parcours": 99}).status_code == 200


def test_adviser_home_does_not_repeat_the_mission_locale_on_each_row(site, client):
    participant = site.participant()
    body = login(client, "conseillere").get(reverse("home")).content.decode()
    agency = str(participant.youth_agency)
    # Named in the title and the menu, never in the lists; no "Mission Locale" column.
    assert (
        agency in body
        and agency not in body[body.index('id="parcours"') :]
        and '<th scope="col">Mission Locale</th>' not in body
    )
    client.logout()
    body = login(client, "facilitateur").get(reverse("home")).content.decode()
    assert '<th scope="col">Mission Locale</th>' in body  # the facilitator works with several


def test_home_lists_open_on_what_waits_for_the_role(site, client):
    waiting = site.participant()  # referred: the facilitator has it to review
    hired = site.participant(hired=True)
    body = login(client, "facilitateur").get(reverse("home")).content.decode()
    section = body[body.index('id="positionnements"') : body.index('id="heures"')]
    assert waiting.last_name.upper() in section and hired.last_name.upper() not in section
    client.logout()
    forwarded = site.participant()
    referral = forwarded.pathways.get().referrals.get()
    referrals.referral_start_review(actor=site.facilitator, referral=referral)
    referrals.referral_approve(actor=site.facilitator, referral=referral)
    referrals.referral_forward(actor=site.facilitator, referral=referral)
    body = login(client, "employeur").get(reverse("home")).content.decode()
    section = body[body.index('id="candidatures"') : body.index('id="salaries"')]
    assert forwarded.last_name.upper() in section
    assert hired.last_name.upper() not in section  # hired: no longer waiting for the employer


def test_home_lists_only_what_the_role_may_see(site, client):
    mine = site.participant(hired=True)
    other = site.participant(adviser=site.adviser_b)
    body = login(client, "conseillere").get(reverse("home")).content.decode()
    assert mine.last_name.upper() in body and other.last_name.upper() not in body
    client.logout()
    body = login(client, "conseiller.b").get(reverse("home")).content.decode()
    assert other.last_name.upper() in body and mine.last_name.upper() not in body
    client.logout()
    # The employer sees the hired candidate forwarded to it, not the one only referred.
    body = login(client, "employeur").get(reverse("home")).content.decode()
    assert mine.last_name.upper() in body and other.last_name.upper() not in body
    client.logout()
    body = login(client, "employeur.b").get(reverse("home")).content.decode()
    assert mine.last_name.upper() not in body
    client.logout()
    # The buyer's auditor sees pathways referred on its contracts, by pseudonym.
    body = login(client, "auditeur").get(reverse("home")).content.decode()
    assert mine.pseudonym in body and other.pseudonym in body
    assert mine.last_name.upper() not in body and other.last_name.upper() not in body


def test_anonymous_is_sent_to_login(client, site):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("conseillere", 200),
        ("facilitateur", 200),
        ("auditeur", 200),
        ("conseiller.b", 404),
        ("employeur", 404),
        ("employeur.b", 404),
    ],
)
def test_participant_file_scope_and_access_log(site, client, username, status):
    participant = site.participant(hired=True)
    login(client, username)
    response = client.get(reverse("participant_detail", args=[participant.pk]))
    assert response.status_code == status
    logged = ParticipantAccess.objects.filter(participant_id=participant.pk, user__username=username)
    assert logged.count() == (1 if status == 200 else 0)
    if status == 200:
        assert logged.get().channel == "page"


# session, user, memberships; the file with its scope checks (one statement: every other check on the row is
# answered from it), its access-log row; pathways, exits, state dates and the pathways' own checks; eligibility and
# criteria; referrals (and their actions), placements, follow-ups; the journal (one statement compiled once per
# role), who may see health data among its participants and which of the referrals its events name the viewer may
# view. The adviser also reads the file's access log.
FILE_QUERIES = {"conseillere": 20, "facilitateur": 19, "auditeur": 13}


@pytest.mark.parametrize("username", sorted(FILE_QUERIES))
def test_participant_file_query_count_is_pinned_and_does_not_grow_with_the_file(site, client, username):
    from parcours.services import followups

    small = site.participant()  # referred
    big = site.participant(hired=True)  # hired, working, hours validated, a follow-up: twice the events
    followups.followup_record(actor=site.adviser, pathway=big.pathways.get(), kind="phone", done_on=site.today)
    login(client, username).get(reverse("home"))  # the first request stores the current organisation
    counted = []
    for participant in (small, big):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("participant_detail", args=[participant.pk]))
        assert response.status_code == 200
        counted.append(len(ctx.captured_queries))
    assert counted == [FILE_QUERIES[username]] * 2


def test_participant_file_shows_timeline(site, client):
    participant = site.participant(hired=True)
    body = login(client, "conseillere").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    for action in ["submit_eligibility", "validate_eligibility", "hire", "place"]:
        assert action in body


def test_state_line_tells_when_the_current_state_was_entered_and_the_exit_result(site, client):
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    # The pathway started two months ago; it was placed today (its journal says so).
    pathway.started_on = site.today - datetime.timedelta(days=61)
    pathway.save(update_fields=["started_on"])
    login(client, "conseillere")
    url = reverse("participant_detail", args=[participant.pk])
    body = client.get(url).content.decode()
    started = pathway.started_on.strftime("%d/%m/%Y")
    assert f"En poste</span> depuis le {site.today:%d/%m/%Y}" in body
    assert f"parcours commencé le {started}" in body
    exited_on = site.today
    pathways.pathway_exit(
        actor=site.adviser, pathway=pathway, exited_on=exited_on, situation="cdi", detail="CDI chez Bâti"
    )
    body = client.get(url).content.decode()
    assert f"Sorti·e</span> le {exited_on:%d/%m/%Y} — " in body
    assert 'data-exit-category="durable_employment">Emploi durable</span> (CDI chez Bâti)' in body
    assert "Sortie : Emploi durable" in body  # the timeline's detail column
    # The buyer's auditor reads the category, never the free-text detail.
    client.logout()
    body = login(client, "auditeur").get(url).content.decode()
    assert "Emploi durable" in body and "CDI chez Bâti" not in body


def test_timeline_speaks_french_for_work_layer_events_in_paris_time(site, client):
    participant = site.participant()
    work_task = WorkTask.objects.filter(pathway__participant=participant, status="NEW", role="facilitator").first()
    tasks.task_claim(actor=site.facilitator, task=work_task)
    body = login(client, "facilitateur").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert "Tâche prise" in body and "dans la file → attribuée" in body
    assert str(TaskKind(work_task.kind).label) in body
    assert " → assigned" not in body and "new →" not in body
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d CES?T</time>", body)


def test_home_opens_on_the_work_waiting_mine_my_team_and_late(site, client):
    participant = site.participant()  # referred: the facilitator's team has a referral to review
    login(client, "facilitateur")
    body = client.get(reverse("home")).content.decode()
    assert body.index('id="a-faire"') < body.index("Positionnements à examiner")  # the work first
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', body))
    assert counts["mine"] == "0" and int(counts["team"]) >= 1 and counts["late"] == "0"
    work_task = WorkTask.objects.filter(
        pathway__participant=participant, task__status="NEW", role="facilitator"
    ).first()
    assert reverse("work:task", args=[work_task.pk]) in body and "(à prendre)" in body
    tasks.task_claim(actor=site.facilitator, task=work_task)
    WorkTask.objects.filter(pk=work_task.pk).update(due_at=timezone.now() - datetime.timedelta(days=2))
    body = client.get(reverse("home")).content.decode()
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', body))
    assert counts["mine"] == "1" and counts["late"] == "1"
    first = body.index("next-actions")
    assert body.index(reverse("work:task", args=[work_task.pk]), first) < body.index("En retard", first) + 200
    # An auditor receives no tasks: no work summary.
    client.logout()
    assert 'id="a-faire"' not in login(client, "auditeur").get(reverse("home")).content.decode()


def test_task_queue_take_buttons_are_the_app_s_buttons_named_after_their_task(site, client):
    participant = site.participant()  # referred: a task to take in the facilitator's queue
    body = login(client, "facilitateur").get(reverse("work:queue")).content.decode()
    take = '<button type="submit" class="btn btn-sm btn-primary">Prendre<span class="visually-hidden"> la tâche'
    assert take in body
    assert f"{participant.first_name} {participant.last_name.upper()}" in body
    assert '<button type="submit">' not in body


def test_unknown_participant_is_404(site, client):
    login(client, "conseillere")
    assert client.get(reverse("participant_detail", args=[999999])).status_code == 404


def test_referral_page_for_employer_hides_social_data(site, client):
    participant = site.participant(hired=True)
    referral = participant.pathways.get().referrals.get()
    body = login(client, "employeur").get(reverse("referral_detail", args=[referral.pk])).content.decode()
    assert participant.email in body
    assert participant.birth_date.strftime("%d/%m/%Y") not in body
    assert "Ouvrir le dossier" not in body
    client.logout()
    login(client, "employeur.b")
    assert client.get(reverse("referral_detail", args=[referral.pk])).status_code == 404


def test_organisation_switch(site, client):
    user = site.facilitator.user
    Membership.objects.create(user=user, organisation=site.buyer, role=Role.AUDITOR)
    login(client, "facilitateur")
    assert "Clauses sociales" in client.get(reverse("home")).content.decode()
    other = Membership.objects.get(user=user, organisation=site.buyer)
    response = client.post(reverse("switch_organisation"), {"membership": other.pk})
    assert response.status_code == 302
    assert "Suivi des clauses" in client.get(reverse("home")).content.decode()
    # A membership of someone else cannot be chosen.
    foreign = Membership.objects.get(user=site.adviser.user)
    client.post(reverse("switch_organisation"), {"membership": foreign.pk})
    assert "Suivi des clauses" in client.get(reverse("home")).content.decode()


def test_workflow_page_lists_every_transition_in_words(site, client):
    body = login(client, "conseillere").get(reverse("workflow_diagrams")).content.decode()
    for spec in all_specs():
        assert spec.label.replace("'", "&#x27;") in body
        assert not set(spec.guards) - set(GUARD_RULES), f"{spec.action}: a guard has no rule in words"
    # Who, in role labels; the rules in words; no Python names, file names or internal jargon.
    assert "Facilitateur·rice" in body and "Employeur" in body and "Automatique (délai dépassé)" in body
    assert "Possible si l&#x27;offre est encore ouverte" in body
    for internal in ["conséquence", ".py", "submit_eligibility", "under_review", "système"]:
        assert internal not in body, internal
    assert 'src="/static/workflows/referral.svg"' in body


def test_the_facilitators_waiting_referrals_are_counted_from_the_counts_by_state(site, client):
    """Their total comes from the home's counts by state (no COUNT of its own): it must still be the list's size,
    other states (hired) left out."""
    from parcours.selectors import REFERRALS_WAITING_FOR_FACILITATOR, referrals_to_review

    for _ in range(11):
        site.participant()
    site.participant(hired=True)
    login(client, "facilitateur")
    response = client.get(reverse("home"))
    waiting = referrals_to_review(actor=site.facilitator, states=REFERRALS_WAITING_FOR_FACILITATOR)
    listed = response.context["referrals"]["page"]
    assert listed.paginator.count == waiting.count() == 11 and len(listed.object_list) == 10
    assert "11 lignes" in response.content.decode() and "Page 1 sur 2" in response.content.decode()


def test_a_home_list_counts_its_rows_up_to_a_cap_and_says_so(site, client, monkeypatch):
    """Past HOME_COUNT_CAP, the pager says "plus de" instead of a total (the count stops there whatever the data);
    below it, the exact total as before. Same number of queries either way."""
    from parcours.web import pages

    for _ in range(20):
        site.participant()
    login(client, "conseillere")
    home_queries(client)
    exact_queries, response = home_queries(client)
    body = response.content.decode()
    assert "20 lignes" in body and "Page 1 sur 2" in body and "Plus de" not in body

    monkeypatch.setattr(pages, "HOME_COUNT_CAP", 15)
    capped_queries, response = home_queries(client)
    body = response.content.decode()
    referrals = response.context["referrals"]
    assert referrals["capped"] and referrals["page"].paginator.count == 15
    assert "Plus de 15 lignes" in body and "Page 1 sur plus de 2" in body
    assert capped_queries == exact_queries
    # At the cap exactly, the total is exact: nothing more to say.
    monkeypatch.setattr(pages, "HOME_COUNT_CAP", 20)
    _, response = home_queries(client)
    assert not response.context["referrals"]["capped"] and "20 lignes" in response.content.decode()


def test_state_line_counts_from_the_entry_into_the_state_not_from_an_event_that_kept_it(site, client):
    """A follow-up recorded in « En poste » is journaled En poste → En poste: it is not when the state was entered
    (the file said « En poste depuis le » the follow-up's day instead of the hire's)."""
    import time_machine

    from parcours.services import followups

    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    hired_on = timezone.localdate()
    later = timezone.now() + datetime.timedelta(days=20)
    with time_machine.travel(later, tick=False):
        followups.followup_record(actor=site.adviser, pathway=pathway, kind="phone", done_on=timezone.localdate())
        login(client, "conseillere")
        for _ in range(2):  # the first request stores the current organisation in the session
            with CaptureQueriesContext(connection) as ctx:
                body = client.get(reverse("participant_detail", args=[participant.pk])).content.decode()
    state = pathway.__class__.objects.get(pk=pathway.pk).get_state_display()
    assert f"{state}</span> depuis le {hired_on:%d/%m/%Y}" in body
    assert f"depuis le {later:%d/%m/%Y}" not in body
    assert len(ctx.captured_queries) == FILE_QUERIES["conseillere"]
