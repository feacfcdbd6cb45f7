"""Referent advisers: who may become the « référent·e » of a Mission Locale's files, and whose open files wait to be
handed over (a colleague who left). Reads only; the writes are parcours.services.participants'
`participant_change_referent` and `participant_hand_over`."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from parcours.models import Participant
from roles.enums import Role
from roles.models import Membership
from roles.policy import scope_queryset

User = get_user_model()

__all__ = [
    "hand_over_sources",
    "is_referent_candidate",
    "open_files_of",
    "participant_for_referent_change",
    "referent_candidates",
    "referent_named",
]


def _active_advisers(organisation_id):
    """Active adviser memberships of an organisation whose account is active too (a deactivated account cannot log
    in: it follows no one)."""
    return Membership.objects.filter(
        organisation_id=organisation_id, role=Role.ADVISER, is_active=True, user__is_active=True
    )


def referent_candidates(organisation_id):
    """The users who may be the referent of a file of this Mission Locale: its active advisers, by name (one query)."""
    members = _active_advisers(organisation_id).filter(user_id=OuterRef("pk"))
    return User.objects.filter(Exists(members)).order_by("last_name", "first_name", "username", "pk")


def referent_named(organisation_id, username: str) -> int | None:
    """The id of the active adviser of the Mission Locale with this username, None for anyone else (unknown, another
    organisation's, inactive): the API names people by username, the service decides, every refusal alike."""
    return referent_candidates(organisation_id).filter(username=username).values_list("pk", flat=True).first()


def is_referent_candidate(organisation_id, user_id) -> bool:
    """Whether `user_id` is an active adviser of the Mission Locale (one query)."""
    return _active_advisers(organisation_id).filter(user_id=user_id).exists()


def open_files_of(actor, referent_id=None):
    """The open files (not anonymised) of the actor's Mission Locale it may hand over (policy
    `participant.change_referent`), those of `referent_id` when given."""
    files = Participant.objects.filter(youth_agency_id=actor.organisation_id, anonymised_at__isnull=True)
    if referent_id is not None:
        files = files.filter(referent_adviser_id=referent_id)
    return scope_queryset(actor, "participant.change_referent", files)


def hand_over_sources(actor):
    """The people — members or former members — who are still the referent of open files of the actor's Mission
    Locale, by name, each with `open_files` (how many) and `is_member` (still an active adviser there). One query,
    whatever the number of people or files."""
    files = open_files_of(actor)
    counted = (
        files.filter(referent_adviser_id=OuterRef("pk"))
        .order_by()
        .values("referent_adviser_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    member = _active_advisers(actor.organisation_id).filter(user_id=OuterRef("pk"))
    return (
        User.objects.filter(pk__in=files.order_by().values("referent_adviser_id"))
        .annotate(
            open_files=Coalesce(Subquery(counted, output_field=IntegerField()), 0),
            is_member=Exists(member),
        )
        .order_by("last_name", "first_name", "username", "pk")
    )


def participant_for_referent_change(*, actor, participant_id):
    """The file if the actor may change its referent, with its agency and referent, else None (pages answer 404). Not
    logged here: the page logs its read when it shows the form."""
    files = Participant.objects.select_related("youth_agency", "referent_adviser")
    return scope_queryset(actor, "participant.change_referent", files).filter(pk=participant_id).first()
