"""Name searches fold accents, case and hyphens on both sides, on SQLite (a folded column and a registered
function) as on PostgreSQL (the same column behind a trigram index, unaccent() for other columns)."""

import pytest
from django.db import connection
from django.test import Client

from parcours.models import Participant
from parcours.selectors import data_protection, participants
from parcours.services.participants import participant_create
from parcours.text import Folded
from tests.factories import make_pathway

pytestmark = pytest.mark.django_db


def test_pathway_search_folds_names(world):
    pathway = make_pathway(world, "intake")
    Participant.objects.filter(pk=pathway.participant_id).update(first_name="Inès")
    participant = Participant.objects.get(pk=pathway.participant_id)
    participant.save()  # the derived search column follows the names
    found = participants.pathway_search(world.a.adviser, query=f"ines {participant.last_name.upper()}")
    assert list(found) == [pathway]
    assert not participants.pathway_search(world.b.adviser, query="ines").exists()


def test_the_access_log_search_folds_reader_names(world):
    pathway = make_pathway(world, "intake")
    reader = world.a.adviser.user
    reader.last_name = "Lefèvre"
    reader.save()
    client = Client()
    client.force_login(reader)
    client.get(f"/participants/{pathway.participant_id}/")
    assert data_protection.access_log_for(world.a.dpo, query="LEFEVRE").count() == 1
    assert data_protection.access_log_for(world.a.dpo, query="lefèvre-x").count() == 0


def test_folded_expression_matches_python_folding(world):
    participant_create(
        actor=world.a.adviser,
        data={
            "first_name": "Zoë",
            "last_name": "L'Hôte-Bérénice",
            "birth_date": make_pathway(world, "intake").participant.birth_date,
            "postcode": "93200",
            "commune": "Saint-Denis",
            "qualification_level": "infra_3",
        },
    )
    row = Participant.objects.annotate(folded=Folded("last_name")).get(first_name="Zoë")
    assert row.folded == "l hote berenice" and row.search_text.startswith("l hote berenice zoe")


@pytest.mark.postgres
def test_postgresql_serves_name_searches_from_a_trigram_index(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'participant_search_trgm'")
        (definition,) = cursor.fetchone()
        assert "gin" in definition and "gin_trgm_ops" in definition
        # A tiny table: steer the planner off the scans (the agency's name index can be walked whole) so that the
        # only index that answers LIKE '%…%' is left to choose.
        for scan in ("seqscan", "indexscan", "indexonlyscan"):
            cursor.execute(f"SET LOCAL enable_{scan} = off")
        cursor.execute("EXPLAIN SELECT id FROM parcours_participant WHERE search_text LIKE %s", ["%ines%"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "participant_search_trgm" in plan
