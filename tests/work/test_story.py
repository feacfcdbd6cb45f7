"""The whole story through the tasks: each step taken from the task page by the role the task is offered to."""

import datetime
from urllib.parse import urlencode

import time_machine
from django.utils import timezone
from viewflow.workflow.status import PROCESS, STATUS

from parcours.models import Pathway, Referral
from parcours.services import referrals
from parcours.work.flows import IntakeFlow, PlacementFlow
from parcours.work.models import OPEN_TASK_STATUSES, TaskKind, WorkProcess, WorkTask
from parcours.work.timers import fire_due
from roles.enums import Role
from tests.work.conftest import open_task
from workflows.journal import verify_chains
from workflows.states import PathwayState, ReferralState
from workflows.vocabulary import ContractType, ExitSituation, FollowUpKind, FulfilmentMode


def act(client, actor, work_task, action, **data):
    """Log in as `actor` and submit the action's form on the task page."""
    client.force_login(actor.user)
    payload = {"action": action, **{f"{action}-{k}": v for k, v in data.items()}}
    response = client.post(f"/travail/taches/{work_task.pk}/", payload)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return response


def claim(client, actor, work_task):
    client.force_login(actor.user)
    response = client.post(f"/travail/taches/{work_task.pk}/prendre/")
    assert response.status_code == 302
    assert WorkTask.objects.get(pk=work_task.pk).task.owner_id == actor.user.pk


def in_queue(client, actor, work_task) -> bool:
    client.force_login(actor.user)
    response = client.get("/travail/a-prendre/")
    assert response.status_code == 200
    return f"/travail/taches/{work_task.pk}/" in response.content.decode()


def in_inbox(client, actor, work_task) -> bool:
    client.force_login(actor.user)
    response = client.get("/travail/")
    assert response.status_code == 200
    return f"/travail/taches/{work_task.pk}/" in response.content.decode()


def done(work_task):
    return WorkTask.objects.select_related("task").get(pk=work_task.pk)


def test_whole_story_through_tasks(territories, client):
    a = territories.a
    pathway = territories.register()

    # 1. Intake: the adviser's Mission Locale gets the eligibility file to build, in the referent's inbox.
    submit = open_task(TaskKind.SUBMIT_ELIGIBILITY, pathway=pathway)
    assert (submit.organisation, submit.role) == (a.youth_agency, Role.ADVISER)
    assert pathway.referent_adviser_id == a.adviser.user.pk
    assert not in_queue(client, a.adviser, submit) and in_inbox(client, a.adviser, submit)
    assert not in_inbox(client, a.adviser2, submit)
    act(
        client,
        a.adviser,
        submit,
        "submit_eligibility",
        derogation_reason="Sortie de dispositif ASE",
        facilitation_organisation=a.facilitation.pk,
    )
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.ELIGIBILITY_PENDING
    assert done(submit).done_by == a.adviser.user and done(submit).outcome == "pathway.submit_eligibility"

    # 2. The facilitation organisation validates eligibility, on its own page (the proofs seen), then back to the task.
    review_eligibility = open_task(TaskKind.REVIEW_ELIGIBILITY, pathway=pathway)
    assert (review_eligibility.organisation, review_eligibility.role) == (a.facilitation, Role.FACILITATOR)
    task_url = f"/travail/taches/{review_eligibility.pk}/"
    page = f"/facilitation/eligibilite/{pathway.pk}/?{urlencode({'next': task_url})}"
    response = act(client, a.facilitator, review_eligibility, "validate_eligibility", valid_until="")
    assert response.url == page and Pathway.objects.get(pk=pathway.pk).state == PathwayState.ELIGIBILITY_PENDING
    response = client.post(page, {"valid_until": "", "next": task_url})
    assert response.status_code == 302 and response.url == task_url
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.ELIGIBLE
    assert done(review_eligibility).done_by == a.facilitator.user
    intake = WorkProcess.objects.get(pathway=pathway, flow_class=IntakeFlow)
    assert intake.status == PROCESS.DONE

    # 3. The adviser refers; the facilitator of the lot reviews, approves, forwards.
    referral = referrals.referral_create(actor=a.adviser, pathway=pathway, offer=a.offer)
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    assert (review.organisation, review.role) == (a.facilitation, Role.FACILITATOR)
    claim(client, a.facilitator2, review)
    for action in ("start_review", "approve", "forward"):
        act(client, a.facilitator2, review, action)
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.FORWARDED
    assert done(review).done_by == a.facilitator2.user and done(review).outcome == "referral.forward"

    # 4. The employer the referral was forwarded to retains the candidate, then confirms the hire.
    answer = open_task(TaskKind.ANSWER_REFERRAL, referral=referral)
    assert (answer.organisation, answer.role) == (a.employer_org, Role.EMPLOYER)
    accepted = act(client, a.employer, answer, "accept")
    confirm = open_task(TaskKind.CONFIRM_HIRE, referral=referral)
    # On to the next step of the same case, the team's to take (it went to an empty « Mes tâches »).
    assert accepted.url == f"/travail/taches/{confirm.pk}/"
    start = timezone.localdate()
    act(
        client,
        a.employer,
        confirm,
        "hire",
        contract_type=ContractType.CDD,
        start_date=start.isoformat(),
        weekly_hours=35,
        fulfilment_mode=FulfilmentMode.DIRECT_HIRE,
        planned_end_date="",
    )
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.HIRED
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.PLACED
    assert done(confirm).done_by == a.employer.user

    # 5. Follow-ups at +1, +3, +6 months: each becomes the adviser's task on its day, recorded from the task.
    follow_ups = pathway.follow_ups.order_by("due_on")
    assert len(follow_ups) == 3
    for follow_up in follow_ups:
        moment = timezone.make_aware(datetime.datetime.combine(follow_up.due_on, datetime.time(9)))
        with time_machine.travel(moment, tick=False):
            assert fire_due() == 1
            task = open_task(TaskKind.FOLLOW_UP, follow_up=follow_up)
            assert (task.organisation, task.role) == (a.youth_agency, Role.ADVISER)
            assert task.owner_id == a.adviser.user.pk and in_inbox(client, a.adviser, task)
            act(
                client, a.adviser, task, "record_follow_up", kind=FollowUpKind.PHONE, done_on=follow_up.due_on, note=""
            )
            assert done(task).done_by == a.adviser.user
            follow_up.refresh_from_db()
            assert follow_up.done_on == follow_up.due_on

    # 6. After the last follow-up, the adviser records the exit; the placement process is over.
    with time_machine.travel(
        timezone.make_aware(datetime.datetime.combine(follow_ups.last().due_on, datetime.time(10))), tick=False
    ):
        record_exit = open_task(TaskKind.RECORD_EXIT, pathway=pathway)
        act(
            client,
            a.adviser,
            record_exit,
            "exit",
            exited_on=timezone.localdate().isoformat(),
            situation=ExitSituation.CDI,
            detail="",
        )
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.EXITED
    assert done(record_exit).done_by == a.adviser.user
    placement_process = WorkProcess.objects.get(referral=referral)
    assert placement_process.flow_class == PlacementFlow
    assert placement_process.status == PROCESS.DONE
    assert not WorkTask.objects.filter(pathway=pathway, task__status__in=OPEN_TASK_STATUSES).exists()
    assert not placement_process.task_set.filter(status=STATUS.SCHEDULED).exists()

    # Everyone's archive holds what they did; the journal chains hold.
    client.force_login(a.employer.user)
    archive = client.get("/travail/terminees/").content.decode()
    assert "Confirmer l&#x27;embauche" in archive and "Répondre à la candidature" in archive
    assert verify_chains().ok


def test_a_task_acted_on_from_elsewhere_is_settled_too(territories):
    """The services are the one way to complete a task: acting from the referral page (or the API) settles it."""
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    referrals.referral_start_review(actor=territories.a.facilitator, referral=referral)
    assert done(review).task.status == STATUS.NEW  # still waiting: under review is not an answer
    referrals.referral_decline(actor=territories.a.facilitator, referral=referral, reason="Profil éloigné")
    review = done(review)
    assert review.task.status == STATUS.DONE
    assert review.done_by == territories.a.facilitator.user and review.outcome == "referral.decline"
    assert review.closing_event.action == "decline"
    process = WorkProcess.objects.get(referral=referral)
    assert process.status == PROCESS.DONE
    assert not process.task_set.filter(status=STATUS.SCHEDULED).exists()  # reminder and expiry disarmed


def test_cancellation_by_another_party_closes_without_crediting_anyone(territories, client):
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    referrals.referral_cancel(actor=territories.a.adviser, referral=referral, reason="Autre emploi trouvé")
    review = done(review)
    assert review.task.status == STATUS.DONE and review.outcome == "referral.cancel"
    assert review.done_by is None  # the adviser does not hold the facilitator's task
    client.force_login(territories.a.adviser.user)
    assert "Examiner le positionnement" not in client.get("/travail/terminees/").content.decode()


def test_expired_referral_goes_back_to_the_adviser_who_refers_again_or_files_it(territories, client):
    a = territories.a
    referral = territories.referral()
    pathway = referral.pathway
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31), tick=False):
        assert fire_due() == 2  # the reminder, then the expiry
    rebound = open_task(TaskKind.REFERRAL_EXPIRED, pathway=pathway)
    assert (rebound.organisation, rebound.role) == (a.youth_agency, Role.ADVISER)
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.ELIGIBLE

    # Referring again from the task settles it and opens a new placement process.
    act(client, a.adviser, rebound, "refer_again", offer=a.offer.pk, motivation="")
    assert done(rebound).done_by == a.adviser.user and done(rebound).outcome == "referral.create"
    new_referral = Referral.objects.exclude(pk=referral.pk).get(pathway=pathway)
    assert open_task(TaskKind.REVIEW_REFERRAL, referral=new_referral)

    # A second expiry, filed this time.
    with time_machine.travel(timezone.now() + datetime.timedelta(days=62), tick=False):
        assert fire_due() == 2
        rebound = open_task(TaskKind.REFERRAL_EXPIRED, referral=new_referral)
        act(client, a.adviser, rebound, "file", reason="Le jeune a déménagé")
    rebound = done(rebound)
    assert rebound.outcome == "task.file" and rebound.done_by == a.adviser.user
    assert rebound.closing_event.action == "file" and rebound.closing_event.reason == "Le jeune a déménagé"
    assert WorkProcess.objects.get(referral=new_referral).status == PROCESS.DONE


def test_act_page_keeps_input_and_shows_the_french_error(territories, client):
    referral = territories.forwarded()
    referrals.referral_accept(actor=territories.a.employer, referral=referral)
    confirm = open_task(TaskKind.CONFIRM_HIRE, referral=referral)
    client.force_login(territories.a.employer.user)
    too_late = (timezone.localdate() + datetime.timedelta(days=5 * 365)).isoformat()
    response = client.post(
        f"/travail/taches/{confirm.pk}/",
        {
            "action": "hire",
            "hire-contract_type": ContractType.CDD,
            "hire-start_date": too_late,
            "hire-weekly_hours": "31",
            "hire-fulfilment_mode": FulfilmentMode.DIRECT_HIRE,
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "date de début du contrat" in page  # the guard's French message, next to the field
    assert 'value="31"' in page and f'value="{too_late}"' in page
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.ACCEPTED
    assert done(confirm).task.status in OPEN_TASK_STATUSES


def test_withdrawal_at_intake_ends_the_intake_process(territories):
    from parcours.services.pathways import pathway_withdraw

    pathway = territories.register()
    submit = open_task(TaskKind.SUBMIT_ELIGIBILITY, pathway=pathway)
    pathway_withdraw(actor=territories.a.adviser, pathway=pathway, reason="Déménagement")
    assert done(submit).outcome == "pathway.withdraw"
    assert WorkProcess.objects.get(pathway=pathway).status == PROCESS.DONE


def test_flow_diagrams_are_shown_and_up_to_date(territories, client):
    from django.core.management import call_command

    client.force_login(territories.a.adviser.user)
    page = client.get("/travail/circuits/").content.decode()
    assert page.count("<svg") == 2
    assert "Examiner le positionnement" in page and "Confirmer l&#x27;embauche" in page
    call_command("workflow_diagrams", "--check")
