"""The triggers keeping Participant.current_state survive the migrations that come after them. SQLite rebuilds a
table to alter it: its triggers are dropped before `migrate` and installed after (parcours.apps), else a migration
rebuilding the participant table failed on them (and one rebuilding the pathway table dropped them). PostgreSQL
alters in place: its triggers stay (it refuses to change the type of a column a trigger names, the pathway's state,
as for the tally's triggers: such a migration drops and creates them again). Either way, after the alterations a
transition still moves the current state."""

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.signals import post_migrate, pre_migrate

from parcours import participant_copy
from parcours.models import Participant, Pathway
from parcours.selectors import current_state
from parcours.services import pathways
from tests.factories import World, make_pathway

pytestmark = pytest.mark.django_db(transaction=True)


def _columns():
    if connection.vendor == "postgresql":
        return [(Participant, "commune")]
    return [(Participant, "commune"), (Pathway, "state")]


@pytest.fixture
def world(transactional_db):
    return World.build()


def _migrate_signal(signal):
    """As `migrate` sends it to the case app, before or after its plan."""
    config = apps.get_app_config("parcours")
    signal.send(sender=config, app_config=config, verbosity=0, interactive=False, using="default", plan=[], apps=apps)


def _alter_the_tables():
    """As migrations altering a column of each table would (SQLite: each table rebuilt, its rows copied), and back."""
    for model, name in _columns():
        field = model._meta.get_field(name)
        wider = field.clone()
        wider.set_attributes_from_name(name)
        wider.model, wider.max_length = model, field.max_length + 1
        with connection.schema_editor() as schema_editor:
            schema_editor.alter_field(model, field, wider, strict=True)
        with connection.schema_editor() as schema_editor:
            schema_editor.alter_field(model, wider, field, strict=True)


def _postgresql_triggers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'parcours_current_state%%'")
        return cursor.fetchone()[0]


def test_tables_altered_between_the_migrate_signals_keep_the_current_state(world):
    pathway = make_pathway(world, "eligibility_pending")
    _migrate_signal(pre_migrate)
    _alter_the_tables()
    # Written while SQLite's triggers are set aside (a data migration): caught up after migrate.
    Pathway.objects.filter(pk=pathway.pk).update(state="eligible")
    _migrate_signal(post_migrate)
    assert Participant.objects.get(pk=pathway.participant_id).current_state == "eligible"
    pathways.pathway_withdraw(actor=world.a.adviser, pathway=Pathway.objects.get(pk=pathway.pk), reason="Déménagé")
    assert Participant.objects.get(pk=pathway.participant_id).current_state == "withdrawn"
    assert current_state.differences() == []


def test_the_triggers_left_in_place_would_break_the_alteration_on_sqlite(world):
    if connection.vendor == "postgresql":
        _alter_the_tables()
        assert _postgresql_triggers() == 2  # altered in place, the triggers stay
        return
    current_state.install_sqlite_triggers(using="default")
    # The referrals' and placements' triggers name the pathway table: set aside too, as `migrate` does (parcours.apps).
    participant_copy.drop_sqlite_triggers(using="default")
    with pytest.raises(Exception, match="parcours_participant"):
        _alter_the_tables()
    current_state.drop_sqlite_triggers(using="default")
    _alter_the_tables()
    current_state.install_sqlite_triggers(using="default")
    participant_copy.install_sqlite_triggers(using="default")
