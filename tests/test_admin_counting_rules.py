"""The counting rules in the admin: data, edited there while no lot uses a version; a version in use is read-only
(every figure names the version that produced it) and « Publier une nouvelle version » copies it, mode rules
included, as the next version to edit."""

import datetime
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from parcours.models import ContractLot, CountingModeRule, CountingRuleSet
from tests.factories import make_lot

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return html.unescape(response.content.decode())


def change_data(rule_set, **changes):
    rules = list(rule_set.mode_rules.order_by("pk"))
    data = {
        "name": rule_set.name,
        "version": rule_set.version,
        "valid_from": rule_set.valid_from.isoformat(),
        "facilitation_organisation": rule_set.facilitation_organisation_id or "",
        "eligibility_grace_days": rule_set.eligibility_grace_days,
        "long_contract_min_months": rule_set.long_contract_min_months,
        "long_contract_bonus_hours": rule_set.long_contract_bonus_hours,
        "long_contract_factor": rule_set.long_contract_factor,
        "notes": rule_set.notes,
        "mode_rules-TOTAL_FORMS": len(rules),
        "mode_rules-INITIAL_FORMS": len(rules),
        "mode_rules-MIN_NUM_FORMS": 0,
        "mode_rules-MAX_NUM_FORMS": 1000,
    }
    for index, rule in enumerate(rules):
        data.update(
            {
                f"mode_rules-{index}-id": rule.pk,
                f"mode_rules-{index}-rule_set": rule_set.pk,
                f"mode_rules-{index}-mode": rule.mode,
                f"mode_rules-{index}-counts": "on" if rule.counts else "",
                f"mode_rules-{index}-factor": rule.factor,
                f"mode_rules-{index}-cap_hours_per_placement": rule.cap_hours_per_placement or "",
            }
        )
    return {**data, **changes}


def test_a_version_in_use_is_read_only_and_a_new_one_is_published_from_it(admin_client, world):
    lot = make_lot(world.a)
    in_use = ContractLot.objects.get(pk=lot.pk).counting_rules
    assert in_use.mode_rules.exists()
    listing = page(admin_client.get(reverse("admin:parcours_countingruleset_changelist")))
    assert in_use.name in listing and "Lots qui l'appliquent" in listing
    url = reverse("admin:parcours_countingruleset_change", args=[in_use.pk])
    assert "Enregistrer" not in page(admin_client.get(url))  # shown, not editable
    response = admin_client.post(url, change_data(in_use, eligibility_grace_days=9))
    assert response.status_code == 403
    assert CountingRuleSet.objects.get(pk=in_use.pk).eligibility_grace_days == in_use.eligibility_grace_days
    delete = reverse("admin:parcours_countingruleset_delete", args=[in_use.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403

    changelist = reverse("admin:parcours_countingruleset_changelist")
    response = admin_client.post(
        changelist, {"action": "publish_new_version", "_selected_action": [in_use.pk]}, follow=True
    )
    assert "Publiée(s)" in page(response)
    new = CountingRuleSet.objects.get(name=in_use.name, version=in_use.version + 1)
    assert new.valid_from == timezone.localdate()
    assert sorted(new.mode_rules.values_list("mode", "counts", "factor")) == sorted(
        in_use.mode_rules.values_list("mode", "counts", "factor")
    )
    # A value its rules refuse is said in words on the form, nothing written.
    change = reverse("admin:parcours_countingruleset_change", args=[new.pk])
    response = admin_client.post(change, change_data(new, long_contract_factor="5"))
    assert response.status_code == 200
    assert "Le coefficient d'un contrat long est compris entre 1 et 3." in page(response)
    assert "counting_rules_factor" not in page(response)
    # The new version is edited before a lot chooses it; the old one is untouched.
    response = admin_client.post(
        reverse("admin:parcours_countingruleset_change", args=[new.pk]),
        change_data(new, eligibility_grace_days=9, valid_from=(timezone.localdate() + datetime.timedelta(days=1))),
    )
    assert response.status_code == 302, page(response)[:2000]
    assert CountingRuleSet.objects.get(pk=new.pk).eligibility_grace_days == 9
    assert CountingModeRule.objects.filter(rule_set=in_use).count() == new.mode_rules.count()
