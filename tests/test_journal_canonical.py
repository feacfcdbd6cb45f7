"""The bytes an event's hash seals: `canonical_event` (the template the writer and the verifier use) is exactly
the canonical JSON of `event_payload` (sorted keys, no spaces, UTF-8), for any values."""

import datetime
import hmac

from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from workflows import keys
from workflows.journal import _copy_field, canonical_event, canonical_inputs

texts = st.text(max_size=40)
numbers = st.none() | st.integers(min_value=0, max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
moments = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1), timezones=st.just(datetime.UTC)
)


@given(
    occurred=moments,
    actor_user=numbers,
    actor_organisation=numbers,
    object_id=numbers,
    participant_id=numbers,
    sequence=st.integers(min_value=1, max_value=2**31 - 1),
    strings=st.lists(texts, min_size=8, max_size=8),
    inputs=st.dictionaries(texts, json_values, max_size=6),
)
def test_canonical_event_is_the_canonical_json_of_the_payload(
    occurred, actor_user, actor_organisation, object_id, participant_id, sequence, strings, inputs
):
    role, object_type, action, from_state, to_state, reason_digest, previous_hash, key_id = strings
    occurred_at = occurred.isoformat(timespec="microseconds")
    payload = {
        "occurred_at": occurred_at,
        "actor_user": actor_user,
        "actor_organisation": actor_organisation,
        "actor_role": role,
        "object_type": object_type,
        "object_id": object_id,
        "participant_id": participant_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason_digest": reason_digest,
        "inputs": inputs,
        "sequence": sequence,
        "previous_hash": previous_hash,
        "key_id": key_id,
    }
    fields = {k: v for k, v in payload.items() if k != "inputs"}
    expected = keys.canonical(payload)
    assert canonical_event(**fields, inputs=canonical_inputs(inputs)) == expected
    # numbers as read from a numeric column's text (the verifier's COPY rows): the same bytes
    as_text = {k: ("null" if v is None else str(v)) if isinstance(v, int | None) else v for k, v in fields.items()}
    assert canonical_event(**as_text, inputs=canonical_inputs(inputs)) == expected


def test_copy_fields_are_unescaped_as_postgresql_writes_them():
    assert _copy_field("\\N") is None
    assert _copy_field("\\\\N") == "\\N"
    assert _copy_field("a\\tb\\nc\\rd\\\\e") == "a\tb\nc\rd\\e"
    assert _copy_field("\\b\\f\\v") == "\b\f\v"
    assert _copy_field("plain é") == "plain é"


@given(key=st.binary(max_size=200), data=st.binary(max_size=2000))
def test_the_verifiers_sealer_is_hmac_sha256_for_any_key_and_data(key, data):
    """The sealer keeps the keyed SHA-256 states between rows: it must stay RFC 2104's HMAC, keys longer than a
    block (hashed first) and empty keys included."""
    with override_settings(JOURNAL_KEYS={"any": key}):
        assert keys.sealer("any")(data) == hmac.digest(key, data, "sha256").hex() == keys.seal_bytes("any", data)
