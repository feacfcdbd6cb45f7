"""The access log: every read of a participant file (page, API, export, administration) leaves one row.

Written by the read paths themselves (selectors, API lists, admin), never by templates; rows are read through the
policy (`participant.view_access_log`, `accesslog.view`) and purged after ACCESS_LOG_RETENTION_DAYS.
"""

from parcours.models import ParticipantAccess
from workflows.vocabulary import AccessChannel


def log_access(*, actor, participant_ids, channel=AccessChannel.PAGE, purpose="view") -> int:
    """One row per participant read, in one INSERT. The system (timers, commands) leaves no row."""
    if actor is None or actor.is_system:
        return 0
    rows = ParticipantAccess.objects.bulk_create(
        ParticipantAccess(
            user=actor.user,
            organisation=actor.organisation,
            role=actor.role.value if actor.role else "",
            participant_id=pk,
            channel=channel,
            purpose=purpose,
        )
        for pk in participant_ids
    )
    return len(rows)


def log_participant_access(*, actor, participant_id: int, channel=AccessChannel.PAGE, purpose="view"):
    if actor is None or actor.is_system:
        return None
    return ParticipantAccess.objects.create(
        user=actor.user,
        organisation=actor.organisation,
        role=actor.role.value if actor.role else "",
        participant_id=participant_id,
        channel=channel,
        purpose=purpose,
    )
