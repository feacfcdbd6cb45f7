"""E-mail of a referral waiting beyond its reminder delay: the facilitators of its lot, by their preference."""

import datetime

import time_machine
from django.core import mail as outbox
from django.utils import timezone

from parcours import mail
from parcours.models import Delivery, MailNotification, NotificationKind
from parcours.services.preferences import set_notification_preferences
from parcours.work.timers import fire_due

DAY = datetime.timedelta(days=1)


def test_reminder_emails_the_facilitators_of_the_lot_only(territories):
    a = territories.a
    a.facilitation.referral_reminder_days, a.facilitation.referral_expiry_days = 3, 10
    a.facilitation.save()
    set_notification_preferences(actor=a.facilitator2, choices={NotificationKind.REFERRAL_WAITING: Delivery.NONE})
    sent = timezone.now()
    with time_machine.travel(sent, tick=False):
        referral = territories.referral()
    with time_machine.travel(sent + 3 * DAY, tick=False):
        assert fire_due() == 1
        assert fire_due() == 0
    rows = MailNotification.objects.filter(kind=NotificationKind.REFERRAL_WAITING)
    assert list(rows.values_list("user_id", "referral_id")) == [(a.facilitator.user.pk, referral.pk)]
    assert mail.deliver_immediate() == 1
    [message] = outbox.outbox
    assert message.to == [a.facilitator.user.email]
    assert message.subject.startswith("[Parcours] Positionnement en attente — ")
    assert f"/positionnements/{referral.pk}/" in message.body
    assert "délai de relance" in message.body
    # Territory b's facilitators hear nothing of territory a's referral.
    assert territories.b.facilitator.user.email not in message.to
