"""E-mail notifications (parcours.mail): the outbox written with the action, delivered by the timer worker through
Django's mail framework (locmem in tests), per person and preference; digests grouped and sent once."""

import datetime
import io
import threading

import pytest
import time_machine
from django.core import mail as outbox
from django.core.mail import EmailMessage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcours import mail, notifications, worker
from parcours.dates import add_months
from parcours.mail_console import EmailBackend
from parcours.models import Delivery, MailNotification, NotificationKind, Referral
from parcours.services import referrals, statements
from parcours.services.common import LOCK_RELATED
from parcours.services.preferences import set_notification_preferences
from roles.actor import Actor
from roles.enums import Role
from roles.models import Membership
from tests.factories import MembershipFactory, UserFactory
from workflows.errors import DomainError
from workflows.models import JournalEvent


def member(site, username, organisation, role, delivery=None, kind=NotificationKind.CANDIDATE_FORWARDED):
    user = UserFactory(username=username, first_name=username.title())
    actor = Actor.from_membership(MembershipFactory(user=user, organisation=organisation, role=role))
    if delivery is not None:
        set_notification_preferences(actor=actor, choices={kind: delivery})
    return actor


def forward(site, participant):
    referral = participant.pathways.get().referrals.get()
    for step in (referrals.referral_start_review, referrals.referral_approve, referrals.referral_forward):
        step(actor=site.facilitator, referral=referral)
    return referral


def after_digest_hour():
    return mail.digest_moment(timezone.now() + datetime.timedelta(days=1)) + datetime.timedelta(minutes=1)


def test_forward_tells_each_employer_member_by_their_preference(site):
    participant = site.participant()
    member(site, "rh.resume", site.emp, Role.EMPLOYER, Delivery.DIGEST)
    member(site, "rh.jamais", site.emp, Role.EMPLOYER, Delivery.NONE)
    referral = forward(site, participant)
    # One row per member who wants to hear of it; the other company and the facilitators get none.
    rows = MailNotification.objects.filter(kind=NotificationKind.CANDIDATE_FORWARDED)
    assert sorted(rows.values_list("user__username", "delivery")) == [
        ("employeur", Delivery.IMMEDIATE),
        ("rh.resume", Delivery.DIGEST),
    ]
    assert mail.deliver_immediate() == 1 and mail.deliver_immediate() == 0
    [message] = outbox.outbox
    assert message.to == [site.employer.user.email]
    assert message.subject == f"[Parcours] Nouvelle candidature — {site.offer.title}"
    link = f"/positionnements/{referral.pk}/"
    assert f"{participant.first_name} {participant.last_name.upper()}" in message.body and link in message.body
    # No social data: nothing an employer may not see, nor contact details, dates, criteria or notes.
    for secret in (participant.email, "2005", "59000", "YOUTH_ML_FOLLOWED", "Éligib", "RQTH", "motivation"):
        assert secret not in message.body
    assert reverse("notification_preferences") in message.body

    # The digest member: nothing before the digest hour, one grouped message after it, once.
    outbox.outbox.clear()
    assert mail.deliver_digests(now=mail.digest_moment(timezone.now()) - datetime.timedelta(minutes=1)) == 0
    assert mail.deliver_digests(now=after_digest_hour()) == 1
    assert mail.deliver_digests(now=after_digest_hour()) == 0
    [digest] = outbox.outbox
    assert digest.to == ["rh.resume@example.org"] and digest.subject.startswith("[Parcours] Résumé du ")
    assert "Nouvelle candidature (1)" in digest.body and link in digest.body


def test_a_changed_preference_applies_to_what_still_waits_in_the_outbox(site):
    """A digest member who chose « jamais » after a candidate was forwarded still got the next morning's digest."""
    actor = member(site, "rh.resume", site.emp, Role.EMPLOYER, Delivery.DIGEST)
    forward(site, site.participant())
    mail.deliver_immediate()
    outbox.outbox.clear()
    set_notification_preferences(actor=actor, choices={NotificationKind.CANDIDATE_FORWARDED: Delivery.NONE})
    assert mail.deliver_digests(now=after_digest_hour()) == 0 and not outbox.outbox
    row = MailNotification.objects.get(user=actor.user)
    assert row.outcome == "skipped" and row.sent_at is not None
    # Back to « tout de suite »: the next one goes at once, not in a digest.
    set_notification_preferences(actor=actor, choices={NotificationKind.CANDIDATE_FORWARDED: Delivery.DIGEST})
    forward(site, site.participant())
    set_notification_preferences(actor=actor, choices={NotificationKind.CANDIDATE_FORWARDED: Delivery.IMMEDIATE})
    assert mail.deliver_immediate() == 2  # the employer's own, and this member's moved from the digest
    assert sorted(m.to[0] for m in outbox.outbox) == sorted([site.employer.user.email, "rh.resume@example.org"])


def test_digest_groups_several_events_in_one_message(site):
    member(site, "rh.resume", site.emp, Role.EMPLOYER, Delivery.DIGEST)
    forwarded = [forward(site, site.participant()) for _ in range(3)]
    mail.deliver_immediate()
    outbox.outbox.clear()
    assert mail.deliver_digests(now=after_digest_hour()) == 1
    [digest] = outbox.outbox
    assert "Nouvelle candidature (3)" in digest.body
    assert all(f"/positionnements/{r.pk}/" in digest.body for r in forwarded)


def test_hire_and_refusal_tell_the_advisers(site):
    hired = site.participant(hired=True)
    refused = site.participant()
    referral = forward(site, refused)
    outbox.outbox.clear()
    MailNotification.objects.filter(kind=NotificationKind.CANDIDATE_FORWARDED).delete()
    referrals.referral_refuse(actor=site.employer, referral=referral, reason="Poste pourvu en interne.")
    mail.deliver_immediate()
    subjects = sorted((m.to[0], m.subject.split(" — ")[0]) for m in outbox.outbox)
    email = site.adviser.user.email
    assert subjects == [(email, "[Parcours] Décision sur un positionnement")] * 2
    bodies = "\n".join(m.body for m in outbox.outbox)
    assert "embauche confirmée" in bodies and "candidature refusée" in bodies
    assert hired.last_name.upper() in bodies
    # The refusal's reason stays in the application (the adviser reads it there).
    assert "Poste pourvu" not in bodies
    assert site.adviser_b.user.email not in [m.to[0] for m in outbox.outbox]


def test_a_statement_reminder_is_one_event_told_in_the_app_and_by_e_mail(site, client):
    """One reminder path: the statement's `remind` journal event (the worker's job from the facilitation
    organisation's reminder day, or the facilitator by hand) is pushed in the app and e-mailed to the employer's
    members by their preferences — never a second, separate e-mail reminder."""
    participant = site.participant(hired=True)  # hours declared for this month only
    member(site, "rh.jamais", site.emp, Role.EMPLOYER, Delivery.NONE, kind=NotificationKind.STATEMENT_MISSING)
    month = add_months(site.today.replace(day=1), 1)
    day = site.lot.contract.operation.facilitation_organisation.hours_statement_reminder_day
    reminder_day = add_months(month, 1).replace(day=day)
    # The months before `month`, undeclared, reminded in their time: else the worker catches them up on
    # `reminder_day` (parcours.services.statements.missing_statements), which is not this test's point.
    statements.remind_missing_statements(today=month.replace(day=day))
    earlier = JournalEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    MailNotification.objects.all().delete()
    outbox.outbox.clear()
    assert "statements" not in [job.name for job in worker.jobs()]  # no e-mail job of its own
    assert statements.remind_missing_statements(today=reminder_day - datetime.timedelta(days=1)) == 0
    assert statements.remind_missing_statements(today=reminder_day) == 1
    assert statements.remind_missing_statements(today=reminder_day) == 0  # once per statement
    [event] = JournalEvent.objects.filter(object_type="hoursstatement", action="remind", pk__gt=earlier)
    rows = MailNotification.objects.filter(kind=NotificationKind.STATEMENT_MISSING)
    assert list(rows.values_list("user__username", "event_id", "month")) == [("employeur", event.pk, month)]
    assert mail.deliver_immediate() == 1 and mail.deliver_immediate() == 0
    [message] = outbox.outbox
    assert message.to == [site.employer.user.email] and message.subject.startswith("[Parcours] Heures du mois")
    statement_url = f"{reverse('employer:statement', args=[site.lot.pk])}?mois={month:%Y-%m}"
    assert statement_url in message.body and str(site.lot) in message.body
    assert participant.last_name.upper() in message.body and participant.email not in message.body
    # In the app, the same event (the employer's notifications page).
    client.force_login(site.employer.user)
    assert event in client.get(reverse("notifications")).context["events"]

    # The facilitator reminds by hand: a message of its own; once the month is declared, a queued one is dropped.
    statements.statement_remind(actor=site.facilitator, lot=site.lot, month=month, today=reminder_day)
    assert rows.count() == 2
    placement = participant.pathways.get().placements.get()
    with time_machine.travel(timezone.make_aware(datetime.datetime.combine(reminder_day, datetime.time(11)))):
        statements.statement_submit(
            actor=site.employer, lot=site.lot, month=month, rows=[{"placement": placement.pk, "hours": "70"}]
        )
    outbox.outbox.clear()
    assert mail.deliver_immediate() == 0 and outbox.outbox == []


def test_nobody_gets_a_message_about_what_they_can_no_longer_see(site):
    referral = forward(site, site.participant())
    # The employer's membership ends before the worker sends: the row is skipped, nothing leaves.
    Membership.objects.filter(user=site.employer.user, organisation=site.emp).update(is_active=False)
    assert mail.deliver_immediate() == 0 and outbox.outbox == []
    assert MailNotification.objects.get(referral=referral).outcome == mail.SKIPPED


def test_the_outbox_reads_who_to_tell_in_one_statement_from_the_referral_the_service_holds(site):
    member(site, "rh.jamais", site.emp, Role.EMPLOYER, Delivery.NONE)
    referral = forward(site, site.participant())
    event = JournalEvent.objects.get(object_type="referral", object_id=referral.pk, action="forward")
    MailNotification.objects.all().delete()
    # The referral as a transition holds it: locked with its lot and participant (the service passes it along).
    held = Referral.objects.select_related(*LOCK_RELATED["referral"]).get(pk=referral.pk)
    with CaptureQueriesContext(connection) as captured:
        assert mail.enqueue_for_event(event, held) == 1  # the employer; not the member who wants none
    # One INSERT … SELECT: who to tell (with their choice) and their outbox rows; on PostgreSQL with its savepoint in
    # the same round trip (a failure undoes it alone), and prepared from its second run (the forward above ran it
    # once): its parameters typed for that. SQLite: Django's savepoint around it.
    if connection.vendor == "postgresql":
        assert len(captured) == 1, [q["sql"] for q in captured]
        sent = captured[0]["sql"].split("; ")
        assert sent[0] == "SAVEPOINT parcours_on_its_own" and sent[2] == "RELEASE SAVEPOINT parcours_on_its_own"
        assert sent[1].startswith("EXECUTE")
    else:
        assert [q["sql"].split()[0] for q in captured] == ["SAVEPOINT", "INSERT", "RELEASE"]
    row = MailNotification.objects.get()
    assert (row.user_id, row.organisation_id, row.kind, row.delivery) == (
        site.employer.user.pk,
        site.emp.pk,
        NotificationKind.CANDIDATE_FORWARDED,
        Delivery.IMMEDIATE,
    )
    assert (row.key, row.event_id, row.referral_id, row.month) == (
        f"referral:{referral.pk}:forward",
        event.pk,
        referral.pk,
        None,
    )
    assert (row.attempts, row.claim, row.claimed_at, row.sent_at, row.outcome) == (0, "", None, None, "")
    assert abs((timezone.now() - row.created_at).total_seconds()) < 60
    # Told already: nobody again, one statement.
    with CaptureQueriesContext(connection) as captured:
        assert mail.enqueue_for_event(event, held) == 0
    assert len(captured) == (1 if connection.vendor == "postgresql" else 3)
    # Another referral held is not taken for the event's: the event's own is read.
    MailNotification.objects.all().delete()
    other = forward(site, site.participant())
    MailNotification.objects.all().delete()
    with CaptureQueriesContext(connection) as captured:
        assert mail.enqueue_for_event(event, other) == 1
    # In a savepoint: the event's referral, then its outbox rows (with their own savepoint: one round trip on PG).
    sent = [q["sql"] for q in captured]
    assert sent[0].startswith("SAVEPOINT") and sent[-1].startswith("RELEASE")
    if connection.vendor == "postgresql":
        assert len(sent) == 4 and sent[2].startswith("SAVEPOINT parcours_on_its_own; ")
    else:
        assert len(sent) == 6
    assert MailNotification.objects.get().referral_id == referral.pk


@pytest.mark.postgres
def test_a_key_too_long_for_the_outbox_is_refused_not_cut(site):
    """Two keys that differ past the column's 80 characters must not become one (the second taken for told)."""
    from django.db import DataError, transaction

    long_key = "referral:1:" + "x" * 100
    with pytest.raises(DataError), transaction.atomic():
        mail._enqueue(NotificationKind.CANDIDATE_FORWARDED, site.emp.pk, key=long_key)
    assert not MailNotification.objects.exists()


def test_muted_seed_queues_nothing(site):
    participant = site.participant()
    with notifications.muted():
        forward(site, participant)
    assert not MailNotification.objects.exists()


def test_preferences_page_shows_the_role_kinds_and_refuses_bad_input(site, client):
    client.login(username="employeur", password="demo")
    url = reverse("notification_preferences")
    body = client.get(url).content.decode()
    assert "Candidature transmise à mon entreprise" in body and "Relevé d&#x27;heures du mois manquant" in body
    assert "Embauche ou refus" not in body  # an adviser's kind
    response = client.post(url, {"candidate_forwarded": "sometimes", "statement_missing": "none"})
    assert response.status_code == 400 and "Choix inconnu" in response.content.decode()
    assert not site.employer.user.notification_preferences.exists()
    response = client.post(url, {"candidate_forwarded": "digest", "statement_missing": "none"})
    assert response.status_code == 302
    assert dict(site.employer.user.notification_preferences.values_list("kind", "delivery")) == {
        "candidate_forwarded": "digest",
        "statement_missing": "none",
    }
    with pytest.raises(DomainError):
        set_notification_preferences(actor=site.employer, choices={"candidate_forwarded": "sometimes"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_timer_workers_send_each_digest_once():
    """Two workers sweeping at the same moment (two threads, two connections): every digest leaves once."""
    from tests.web.conftest import Site

    site = Site()
    for n in range(3):
        member(site, f"rh.{n}", site.emp, Role.EMPLOYER, Delivery.DIGEST)
    for _ in range(4):
        forward(site, site.participant())
    mail.deliver_immediate()
    outbox.outbox.clear()
    now, barrier, counts = after_digest_hour(), threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            counts.append(mail.deliver_digests(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 3
    assert sorted(m.to[0] for m in outbox.outbox) == [f"rh.{n}@example.org" for n in range(3)]
    assert all("Nouvelle candidature (4)" in m.body for m in outbox.outbox)


def test_demo_console_prints_messages_as_people_read_them():
    stream = io.StringIO()
    message = EmailMessage("[Parcours] Nouvelle candidature — Maçon·ne", "Bonjour,\n\nUne candidature…", to=["a@b.fr"])
    EmailBackend(stream=stream).send_messages([message])
    printed = stream.getvalue()
    assert "Objet : [Parcours] Nouvelle candidature — Maçon·ne" in printed and "Courriel à : a@b.fr" in printed
    assert "Une candidature…" in printed and "=?utf-8?" not in printed


@pytest.mark.postgres
def test_an_outbox_write_that_fails_does_not_stop_the_action_it_tells_of(site, monkeypatch, caplog):
    """The forward commits, told to the pages, without its e-mail: the outbox statement failed (a key too long for its
    column) inside its own savepoint, sent in the same round trip; the failure is logged."""
    from django.db import transaction

    original = mail._enqueue
    monkeypatch.setattr(
        mail, "_enqueue", lambda kind, organisation, *, key, **kw: original(kind, organisation, key="k" * 100, **kw)
    )
    participant = site.participant()
    with transaction.atomic():  # as a request: the action and what it tells, then one commit
        referral = forward(site, participant)
    assert Referral.objects.get(pk=referral.pk).state == "forwarded"
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="forward").exists()
    assert not MailNotification.objects.exists()
    assert "e-mail notifications of event" in caplog.text and "value too long" in caplog.text


def test_run_on_its_own_undoes_its_statement_alone_and_the_transaction_goes_on(db):
    from django.db import DatabaseError, transaction

    from roles.statements import run_on_its_own

    table = MailNotification._meta.db_table
    with transaction.atomic():
        kept = JournalEvent.objects.create(object_type="t", object_id=1, action="a", sequence=1, key_id="k", hash="h")
        with pytest.raises(DatabaseError):
            run_on_its_own(f"INSERT INTO {table} (id) VALUES (%s)", [None])  # NOT NULL columns left out
        assert not transaction.get_connection().needs_rollback
        assert run_on_its_own(f"UPDATE {table} SET attempts = attempts + 1 WHERE id = %s", [0]) == 0
        JournalEvent.objects.create(object_type="t", object_id=2, action="b", sequence=1, key_id="k", hash="h2")
    assert JournalEvent.objects.filter(pk=kept.pk).exists() and JournalEvent.objects.filter(hash="h2").exists()


@pytest.mark.postgres
def test_run_on_its_own_refuses_a_bad_parameter_before_sending_anything(db):
    from django.db import ProgrammingError, transaction

    from roles.statements import run_on_its_own

    table = MailNotification._meta.db_table
    with transaction.atomic():
        with pytest.raises(ProgrammingError, match="placeholders"):  # one parameter for two placeholders
            run_on_its_own(f"UPDATE {table} SET attempts = %s WHERE id = %s", [1])
        assert not transaction.get_rollback()
        assert run_on_its_own(f"UPDATE {table} SET attempts = attempts WHERE id = %s", [0]) == 0  # still usable


@pytest.mark.postgres
def test_a_text_the_server_cannot_parse_loses_the_transaction_loudly(site, caplog):
    """Nothing of it ran, not even its savepoint: the transaction is aborted and cannot be saved by the savepoint.
    It is marked for rollback, and the publisher lets the error through instead of committing nothing as if the
    action had been written."""
    from django.db import DatabaseError, transaction

    from roles.statements import run_on_its_own

    with transaction.atomic():
        with pytest.raises(DatabaseError):
            run_on_its_own("INSERT INTO nowhere (", [])
        assert transaction.get_rollback()
    participant = site.participant()
    referral = participant.pathways.get().referrals.get()
    referrals.referral_start_review(actor=site.facilitator, referral=referral)
    referrals.referral_approve(actor=site.facilitator, referral=referral)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mail, "_enqueue", lambda *args, **kwargs: run_on_its_own("INSERT INTO nowhere (", []))
        with pytest.raises(DatabaseError), transaction.atomic():
            referrals.referral_forward(actor=site.facilitator, referral=referral)
    assert Referral.objects.get(pk=referral.pk).state == "approved"
