"""What the Django admin says, in French: a refused membership or organisation names the rule, never a constraint
(« La contrainte « membership_named_access_auditor_only » n'est pas respectée. ») nor a field by its code
(« … avec ces champs User et Organisation … »); the journal shows each stored code with the timeline's label (the codes
themselves are sealed and never change); the index names its models in French."""

import html

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import CheckConstraint, UniqueConstraint

from parcours import models as parcours_models
from roles import models as roles_models
from roles.actor import Actor
from roles.enums import OrganisationKind, Role
from roles.models import Membership, Organisation
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from workflows.journal import record_event
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db

# The models a form writes: the admin's (roles) and the register's services (full_clean before saving).
FORM_WRITTEN = [
    roles_models.Organisation,
    roles_models.Membership,
    parcours_models.Operation,
    parcours_models.PublicContract,
    parcours_models.ContractLot,
    parcours_models.JobOffer,
    # The counting rules, edited in the admin while no lot applies them.
    parcours_models.CountingRuleSet,
    parcours_models.CountingModeRule,
]


def page(response) -> str:
    return html.unescape(response.content.decode())


def add_membership(admin_client, **data):
    fields = {"user": data.pop("user").pk, "organisation": data.pop("organisation").pk, "is_active": "on"}
    return admin_client.post("/admin/roles/membership/add/", fields | data)


@pytest.mark.parametrize("model", FORM_WRITTEN, ids=lambda model: model.__name__)
def test_every_constraint_a_form_can_hit_refuses_in_french(model):
    for constraint in model._meta.constraints:
        if isinstance(constraint, CheckConstraint | UniqueConstraint):
            message = constraint.get_violation_error_message()
            assert constraint.name not in message and "La contrainte" not in message, constraint.name
            for name in getattr(constraint, "fields", ()):
                named = model._meta.get_field(name).deconstruct()[3].get("verbose_name")
                assert named is not None, (constraint.name, name)  # else Django's name from the code: « User »


def test_named_access_for_another_role_is_refused_in_words(admin_client):
    employer = OrganisationFactory(employer=True)
    response = add_membership(
        admin_client, user=UserFactory(), organisation=employer, role=Role.EMPLOYER, named_access="on"
    )
    body = page(response)
    assert response.status_code == 200
    assert "L'accès nominatif est réservé aux auditeur·rices." in body
    assert "membership_named_access_auditor_only" not in body and "contrainte" not in body
    assert not Membership.objects.exists()


def test_a_second_membership_of_the_same_user_in_the_same_organisation_is_refused_in_words(admin_client):
    membership = MembershipFactory()
    response = add_membership(admin_client, user=membership.user, organisation=membership.organisation, role=Role.DPO)
    body = page(response)
    assert response.status_code == 200
    assert "Cet utilisateur est déjà membre de cette organisation." in body
    assert "Un objet" not in body and "User" not in body
    assert Membership.objects.count() == 1


def test_the_same_user_twice_among_an_organisations_members_is_refused_in_words(admin_client):
    organisation = OrganisationFactory(mission_locale=True)
    user = UserFactory()
    rows = {}
    for index, role in enumerate([Role.ADVISER, Role.DPO]):
        rows |= {f"memberships-{index}-user": user.pk, f"memberships-{index}-role": role}
    response = admin_client.post(
        f"/admin/roles/organisation/{organisation.pk}/change/",
        {
            "name": organisation.name,
            "kind": organisation.kind,
            "referral_reminder_days": 7,
            "referral_expiry_days": 30,
            "hours_statement_reminder_day": 10,
            "memberships-TOTAL_FORMS": 2,
            "memberships-INITIAL_FORMS": 0,
        }
        | rows,
    )
    body = page(response)
    assert response.status_code == 200
    assert "Un même utilisateur figure deux fois parmi les membres" in body
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == [
        "Un même utilisateur figure deux fois parmi les membres : une seule appartenance par organisation."
    ]
    assert not Membership.objects.exists()


def test_an_organisations_settings_are_refused_in_words(admin_client):
    response = admin_client.post(
        "/admin/roles/organisation/add/",
        {
            "name": "PLIE du Nord",
            "kind": OrganisationKind.FACILITATION,
            "authority_kind": "municipality",
            "referral_reminder_days": 30,
            "referral_expiry_days": 7,
            "hours_statement_reminder_day": 29,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    body = page(response)
    assert response.status_code == 200
    for message in (
        "La relance des positionnements doit venir avant leur expiration.",
        "Le jour de relance des relevés d'heures est compris entre 1 et 28.",
        "Seul un acheteur public a un type d'acheteur.",
    ):
        assert message in body
    assert "contrainte" not in body
    assert not Organisation.objects.filter(name="PLIE du Nord").exists()


def test_a_register_constraint_passed_by_the_service_still_speaks_french():
    """The services refuse first with their own words; the model's, below them, are French too."""
    lot = parcours_models.ContractLot(number=1, target_hours=-1)
    lot.contract = parcours_models.PublicContract(reference="X")
    lot.execution_starts_on, lot.execution_ends_on = "2026-02-01", "2026-01-01"
    with pytest.raises(ValidationError) as error:
        lot.validate_constraints(exclude={"contract"})
    assert set(error.value.messages) == {
        "La fin d'exécution ne peut pas précéder son début.",
        "Les heures d'insertion prévues ne peuvent pas être négatives.",
    }


# --- The journal ----------------------------------------------------------------------------------------------------
@pytest.fixture
def events():
    facilitator = Actor.from_membership(
        MembershipFactory(organisation=OrganisationFactory(facilitation=True), role=Role.FACILITATOR)
    )
    task = record_event(
        actor=facilitator,
        object_type="task",
        object_id=41,
        action="unassign",
        from_state="assigned",
        to_state="new",
        reason="Absente cette semaine",
    )
    referral = record_event(
        actor=facilitator,
        object_type="referral",
        object_id=42,
        action="cancel",
        from_state="sent",
        to_state="cancelled",
    )
    return task, referral


def test_the_journal_list_shows_labels_not_codes(admin_client, events):
    response = admin_client.get("/admin/workflows/journalevent/")
    assert response.status_code == 200
    rows = page(response).split('id="result_list"')[1].split("</table>")[0]
    for label in ("Tâche", "Tâche remise dans la file", "attribuée", "dans la file", "Facilitateur·rice"):
        assert label in rows
    assert "Positionnement" in rows and "Annuler le positionnement" in rows
    for code in ("task", "unassign", "assigned", "facilitator", "referral", "cancelled"):
        assert f">{code}<" not in rows
    # The filters list the labels, and filter on the stored codes.
    filters = page(response).split('id="changelist-filter"')[1]
    assert "Tâche remise dans la file" in filters and "Facilitateur·rice" in filters
    filtered = admin_client.get("/admin/workflows/journalevent/", {"object_type": "task", "actor_role": "facilitator"})
    assert [event.pk for event in filtered.context["cl"].result_list] == [events[0].pk]


def test_the_journal_event_page_shows_labels_and_stays_read_only(admin_client, events):
    task = events[0]
    url = f"/admin/workflows/journalevent/{task.pk}/change/"
    response = admin_client.get(url)
    body = page(response)
    assert response.status_code == 200
    assert "Tâche remise dans la file" in body and "attribuée" in body and "dans la file" in body
    assert "Motif" in body and "Absente cette semaine" in body and "Reason" not in body
    assert f"événement n° {task.pk}" in body and "assigned → new" not in body and "unassign" not in body
    assert admin_client.post(url, {}).status_code == 403
    stored = JournalEvent.objects.get(pk=task.pk)
    assert (stored.object_type, stored.action, stored.from_state, stored.to_state, stored.actor_role) == (
        "task",
        "unassign",
        "assigned",
        "new",
        "facilitator",
    )


def test_the_admin_index_names_its_models_in_french(admin_client):
    body = page(admin_client.get("/admin/"))
    assert "Battements des workers" in body and "du workers" not in body
    # Django makes a plural by adding an "s" to the whole name: right for one word only (« battement du workers »).
    for model in apps.get_models():
        named = "verbose_name" in model._meta.original_attrs  # not the names of guardian's grant tables
        if model._meta.app_label in ("parcours", "roles", "workflows") and named and " " in model._meta.verbose_name:
            assert "verbose_name_plural" in model._meta.original_attrs, model._meta.label
