"""The home's « N en retard » counts the late tasks the user may act on — theirs, or unclaimed in their team — and
leads to their list (`/travail/en-retard/`), for every member: it led to the team's page, a 404 for anyone who is
not a supervisor (every demo adviser, facilitator and employer)."""

import datetime
import re

from django.urls import reverse
from django.utils import timezone

from parcours.services import tasks as services
from parcours.work.models import TaskKind, WorkTask
from tests.work.conftest import open_task


def due(work_task, days):
    WorkTask.objects.filter(pk=work_task.pk).update(due_at=timezone.now() + datetime.timedelta(days=days))


def test_the_home_s_late_count_leads_to_the_late_tasks_the_member_sees(territories, client):
    a = territories.a
    mine, to_take, colleagues, not_yet = (
        open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral()) for _ in range(4)
    )
    services.task_claim(actor=a.facilitator, task=mine)
    services.task_claim(actor=a.facilitator2, task=colleagues)
    for work_task in (mine, to_take, colleagues):
        due(work_task, -3)
    due(not_yet, 3)

    client.force_login(a.facilitator.user)  # a member, not a supervisor
    home = client.get(reverse("home")).content.decode()
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', home))["late"] == "2"
    link = re.search(r'<a href="([^"]+)"><strong data-count="late">', home).group(1)
    assert link == reverse("work:late") == "/travail/en-retard/"
    response = client.get(link)
    assert response.status_code == 200
    listed = set(map(int, re.findall(r'href="/travail/taches/(\d+)/"', response.content.decode())))
    assert listed == {mine.pk, to_take.pk}  # a colleague's task is theirs to do; one not due yet is not late
    assert "<strong>2</strong> Examiner le positionnement" in response.content.decode()  # the counts by kind

    # Nothing late: the link still answers, with an empty list.
    for work_task in (mine, to_take):
        due(work_task, 1)
    client.force_login(a.facilitator2.user)
    home = client.get(reverse("home")).content.decode()
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', home))["late"] == "1"  # its own claimed task
    client.force_login(a.adviser.user)
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', client.get("/").content.decode()))["late"] == "0"
    assert "Aucune tâche en retard." in client.get("/travail/en-retard/").content.decode()
