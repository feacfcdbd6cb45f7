"""A membership's role must exist in its organisation's kind, and the database says so (roles.membership_kinds):
PostgreSQL's triggers (migration 0004), SQLite's (installed after `migrate`). Every kind × every role, written
past the forms as a command or a shell would; the organisation's change of kind; the admin's words."""

import importlib
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from roles import membership_kinds
from roles.enums import ROLES_BY_ORGANISATION_KIND, OrganisationKind, Role
from roles.models import Membership, Organisation
from tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("roles.migrations.0004_membership_fits_organisation_kind")


def refused(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError as error:
        assert membership_kinds.REFUSED in str(error)
        return True
    return False


def test_the_migrations_pairs_are_the_tables():
    """PostgreSQL's triggers hold the pairs frozen in the migration: a change of the table needs a new migration."""
    assert migration.PAIRS == membership_kinds.current_pairs()
    assert len(migration.PAIRS) == sum(len(roles) for roles in ROLES_BY_ORGANISATION_KIND.values())


def test_every_role_in_every_kind_of_organisation():
    user = UserFactory()
    for kind in OrganisationKind:
        organisation = OrganisationFactory(kind=kind)
        for role in Role:
            fits = role in ROLES_BY_ORGANISATION_KIND[kind]
            write = partial(Membership.objects.create, user=user, organisation=organisation, role=role)
            assert refused(write) is not fits, (kind, role)
            Membership.objects.filter(user=user).delete()
    assert not Membership.objects.exists()


def test_a_membership_cannot_change_to_a_role_or_an_organisation_foreign_to_it():
    mission_locale = OrganisationFactory(mission_locale=True)
    employer = OrganisationFactory(employer=True)
    membership = Membership.objects.create(user=UserFactory(), organisation=mission_locale, role=Role.ADVISER)
    assert refused(lambda: Membership.objects.filter(pk=membership.pk).update(role=Role.EMPLOYER))
    assert refused(lambda: Membership.objects.filter(pk=membership.pk).update(organisation=employer))
    # Both at once fit: an adviser moved to an employer as its employee.
    assert not refused(
        lambda: Membership.objects.filter(pk=membership.pk).update(organisation=employer, role=Role.EMPLOYER)
    )
    membership.refresh_from_db()
    assert (membership.organisation, membership.role) == (employer, Role.EMPLOYER)
    # A change of anything else is not checked again (the trigger's columns).
    assert not refused(lambda: Membership.objects.filter(pk=membership.pk).update(is_active=False))


def test_an_organisation_keeps_its_kind_while_members_need_it():
    organisation = OrganisationFactory(mission_locale=True)
    Membership.objects.create(user=UserFactory(), organisation=organisation, role=Role.DPO)
    adviser = Membership.objects.create(user=UserFactory(), organisation=organisation, role=Role.ADVISER)
    assert refused(lambda: Organisation.objects.filter(pk=organisation.pk).update(kind=OrganisationKind.EMPLOYER))
    assert Organisation.objects.get(pk=organisation.pk).kind == OrganisationKind.MISSION_LOCALE
    # The form says why, before the database refuses.
    organisation.kind = OrganisationKind.EMPLOYER
    with pytest.raises(ValidationError) as error:
        organisation.full_clean()
    assert error.value.message_dict["kind"] == [
        "Des membres ont un rôle qui n'existe pas dans ce type d'organisation (Conseiller·ère) : "
        "changez d'abord leur rôle."
    ]
    # Once no member needs the kind, it may change (a data-protection officer exists in every kind).
    adviser.delete()
    organisation.full_clean()
    assert not refused(lambda: organisation.save())
    assert Organisation.objects.get(pk=organisation.pk).kind == OrganisationKind.EMPLOYER
    # A change of anything else is not checked.
    assert not refused(lambda: Organisation.objects.filter(pk=organisation.pk).update(territory="Rhône"))


def posted(context) -> dict:
    """What the admin's change page posts back untouched: its form, its inlines' management forms and rows."""
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form.add_prefix(name)] = "on" if value is True else value
    return data


def test_the_admin_says_why_a_kind_cannot_change(admin_client):
    organisation = OrganisationFactory(mission_locale=True)
    Membership.objects.create(user=UserFactory(), organisation=organisation, role=Role.ADVISER)
    url = f"/admin/roles/organisation/{organisation.pk}/change/"
    data = posted(admin_client.get(url).context)
    response = admin_client.post(url, data | {"kind": OrganisationKind.EMPLOYER})
    assert response.status_code == 200  # the form again, with its error
    assert "changez d&#x27;abord leur rôle" in response.content.decode()
    assert Organisation.objects.get(pk=organisation.pk).kind == OrganisationKind.MISSION_LOCALE
    # The same page, posted as it was, saves.
    assert admin_client.post(url, data).status_code == 302


def test_the_admin_answers_a_membership_without_organisation_with_the_form(admin_client):
    user = UserFactory()
    response = admin_client.post("/admin/roles/membership/add/", {"user": user.pk, "role": Role.ADVISER})
    assert response.status_code == 200  # it was a 500: clean() read the missing organisation
    assert "Ce champ est obligatoire." in response.content.decode()
    assert not Membership.objects.exists()


def test_the_admin_refuses_a_new_organisation_whose_members_do_not_fit_it(admin_client):
    response = admin_client.post(
        "/admin/roles/organisation/add/",
        {
            "name": "Entreprise X",
            "kind": OrganisationKind.EMPLOYER,
            "referral_reminder_days": 7,
            "referral_expiry_days": 30,
            "hours_statement_reminder_day": 10,
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 0,
            "memberships-0-user": UserFactory().pk,
            "memberships-0-role": Role.ADVISER,
            "memberships-0-is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "Ce rôle n&#x27;existe pas dans ce type d&#x27;organisation." in response.content.decode()
    assert not Organisation.objects.filter(name="Entreprise X").exists() and not Membership.objects.exists()


@pytest.mark.postgres
def test_the_migration_names_the_memberships_to_mend_first():
    organisation = OrganisationFactory(employer=True)
    with connection.schema_editor() as editor:
        migration.drop(None, editor)
    foreign = Membership.objects.create(user=UserFactory(), organisation=organisation, role=Role.ADVISER)
    with pytest.raises(RuntimeError, match=rf"1 membership\(s\) .*membership {foreign.pk} \(adviser in a employer"):
        with connection.schema_editor() as editor:
            migration.install(None, editor)
    foreign.delete()
    with connection.schema_editor() as editor:
        migration.install(None, editor)
    assert refused(lambda: Membership.objects.create(user=UserFactory(), organisation=organisation, role=Role.ADVISER))
