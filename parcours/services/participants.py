from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from parcours.models import Participant, Pathway
from parcours.notifications import publish_on_commit
from parcours.selectors.referents import is_referent_candidate, open_files_of
from parcours.services.common import lock, refuse_closed_file, require, require_choice, require_date, row_pk
from parcours.text import identity_key
from roles import policy
from roles.enums import OrganisationKind
from roles.grants import share_participant
from roles.rows import insert_row, insert_row_unless_duplicate
from roles.statements import Compiled
from workflows import text, work
from workflows.errors import DomainError
from workflows.journal import record_event, record_new_chains
from workflows.models import JournalEvent
from workflows.vocabulary import Programme, QualificationLevel, Sex

MIN_AGE, MAX_AGE = 16, 25
REQUIRED = {
    "first_name": gettext_lazy("Prénom"),
    "last_name": gettext_lazy("Nom"),
    "birth_date": gettext_lazy("Date de naissance"),
    "postcode": gettext_lazy("Code postal"),
    "commune": gettext_lazy("Commune"),
    "qualification_level": gettext_lazy("Niveau de qualification"),
}
EDITABLE = set(Participant.JOURNALED_FIELDS)


NAMES = {"first_name": gettext_lazy("Prénom"), "last_name": gettext_lazy("Nom"), "commune": gettext_lazy("Commune")}
TEXTS = {"email": gettext_lazy("Courriel"), "imilo_reference": gettext_lazy("Identifiant i-milo")}


def _normalise(data: dict) -> dict:
    """Known fields only; text NFC-normalised and stripped, names with a letter and nothing invisible or
    direction-changing, ASCII digits for the postcode and the phone (workflows.text)."""
    unknown = sorted(set(data) - EDITABLE)
    if unknown:
        raise DomainError(
            "unknown_input", _("Donnée inattendue : %(unknown)s.") % {"unknown": ", ".join(unknown)}, field=unknown[0]
        )
    clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    for name, value in clean.items():
        if not isinstance(value, str) or not value:
            continue
        if name in NAMES:
            clean[name] = text.clean_name(value, field=name, label=NAMES[name])
        elif name == "postcode":
            clean[name] = text.clean_postcode(value)
        elif name == "phone":
            clean[name] = text.clean_phone(value)
        else:
            clean[name] = text.clean_text(value, field=name, label=TEXTS.get(name, name))
    return clean


def _check_birth_date(birth, *, on):
    """16 to 25 on the day of registration: on creation (today) as on a correction later (the day the file was
    opened), so that a birth date cannot be edited to 2030 or 1900."""
    if birth > timezone.localdate():
        raise DomainError("invalid_input", _("Date de naissance : pas dans le futur."), field="birth_date")
    age = Participant(birth_date=birth).age_on(on)
    if not (MIN_AGE <= age <= MAX_AGE):
        raise DomainError(
            "age_out_of_range",
            _(
                "Les Missions Locales accueillent les jeunes de %(min_age)s à %(max_age)s ans (âge calculé "
                "à l'inscription, le %(on)s : %(age)s ans)."
            )
            % {"min_age": MIN_AGE, "max_age": MAX_AGE, "on": format(on, "%d/%m/%Y"), "age": age},
            field="birth_date",
        )


def _validate(clean: dict, *, registered_on=None):
    """`registered_on`: None on creation (today), the file's registration day on an edit."""
    creating = registered_on is None
    for name, label in REQUIRED.items():
        if (creating or name in clean) and not clean.get(name):
            raise DomainError(
                "missing_input", _("%(label)s : ce champ est obligatoire.") % {"label": label}, field=name
            )
    if "birth_date" in clean:
        birth = require_date(clean["birth_date"], "birth_date", _("Date de naissance"))
        _check_birth_date(birth, on=registered_on or timezone.localdate())
    if "qualification_level" in clean:
        require_choice(
            clean["qualification_level"], QualificationLevel, "qualification_level", _("Niveau de qualification")
        )
    if "programme" in clean:
        require_choice(clean["programme"], Programme, "programme", _("Dispositif"))
    if "sex" in clean:
        require_choice(clean["sex"] or "", Sex, "sex", _("Sexe"))


def _full_clean(participant):
    try:
        participant.full_clean(exclude=["youth_agency", "referent_adviser"], validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError("invalid_input", f"{messages[0]}", field=field) from None


DUPLICATE_MESSAGE = gettext_lazy(
    "Doublon possible : un·e jeune né·e le même jour et portant les mêmes nom et prénom (aux accents, majuscules, "
    "traits d'union et ordre des noms près) est déjà suivi·e par votre Mission Locale."
)


def find_duplicates(*, actor, first_name, last_name, birth_date, exclude=None, youth_agency=None):
    """Participants of the actor's Mission Locale who look like the same person (never other agencies'): same
    normalised identity (parcours.text.identity_key: accents, case, hyphens and swapped names ignored)."""
    key = identity_key(first_name, last_name, birth_date)
    if not key:
        return Participant.objects.none()
    agency = youth_agency or actor.organisation
    qs = _same_identity(getattr(agency, "pk", agency), key)
    return qs.exclude(pk=exclude.pk) if exclude is not None else qs


def _same_identity(agency_id, key):
    return Participant.objects.filter(youth_agency_id=agency_id, identity_key=key)


# Compiled once (roles.statements): an intake asks it each time.
_a_duplicate = Compiled(
    lambda agency_id, key: _same_identity(agency_id, key).order_by().values_list("pk")[:1], arguments=2
)


def has_duplicate(*, actor, first_name, last_name, birth_date) -> bool:
    """Whether `find_duplicates` finds anyone (for a new participant of the actor's Mission Locale)."""
    key = identity_key(first_name, last_name, birth_date)
    return bool(key) and bool(_a_duplicate(actor.organisation.pk, key))


def _insert_unique(participant):
    """Insert a new participant; a race lost on a unique constraint becomes the same clean refusal as in
    `_save_unique` (on PostgreSQL one statement, `INSERT … ON CONFLICT DO NOTHING`, not a savepoint's three)."""
    participant.set_derived_columns(new=True)
    if insert_row_unless_duplicate(participant, own_save_done=True):
        return
    same_reference = (
        participant.imilo_reference
        and Participant.objects.filter(
            youth_agency_id=participant.youth_agency_id, imilo_reference=participant.imilo_reference
        ).exists()
    )
    if same_reference:
        raise DomainError(
            "duplicate_imilo_reference", _("Cet identifiant i-milo est déjà utilisé."), field="imilo_reference"
        )
    raise DomainError("duplicate_participant", DUPLICATE_MESSAGE)


def _save_unique(participant):
    """Save; a race lost on a unique constraint (identity key or i-milo reference) becomes a clean refusal."""
    try:
        with transaction.atomic():
            participant.save()
    except IntegrityError as exc:
        if "identity" in str(exc):
            raise DomainError("duplicate_participant", DUPLICATE_MESSAGE) from None
        raise DomainError(
            "duplicate_imilo_reference", _("Cet identifiant i-milo est déjà utilisé."), field="imilo_reference"
        ) from None


@transaction.atomic
def participant_create(*, actor, data: dict, allow_duplicate: bool = False) -> Participant:
    """Register a young person (intake): the participant, an open pathway, the Mission Locale's grants."""
    require(actor, "participant.create", message=_("Seul·e un·e conseiller·ère peut inscrire un·e jeune."))
    if actor.organisation.kind != OrganisationKind.MISSION_LOCALE:
        raise DomainError("forbidden", _("Seule une Mission Locale peut inscrire un·e jeune."))
    clean = _normalise(data)
    _validate(clean)
    # The check gives the adviser the "possible duplicate" step; the database's unique identity key (partial:
    # confirmed homonyms aside) settles concurrent intakes of the same person.
    duplicate = has_duplicate(
        actor=actor, first_name=clean["first_name"], last_name=clean["last_name"], birth_date=clean["birth_date"]
    )
    if duplicate and not allow_duplicate:
        raise DomainError("duplicate_participant", DUPLICATE_MESSAGE)
    if (
        clean.get("imilo_reference")
        and Participant.objects.filter(
            youth_agency=actor.organisation, imilo_reference=clean["imilo_reference"]
        ).exists()
    ):
        raise DomainError(
            "duplicate_imilo_reference", _("Cet identifiant i-milo est déjà utilisé."), field="imilo_reference"
        )
    participant = Participant(
        youth_agency=actor.organisation, referent_adviser=actor.user, homonym_confirmed=duplicate, **clean
    )
    _full_clean(participant)
    _insert_unique(participant)
    # The Mission Locale's grants go with the participant's first event (one round trip on PostgreSQL; not with the
    # pathway's insert: the tally's triggers count both, see roles.rows._with).
    granted = share_participant(
        organisation=actor.organisation, participant=participant, manage=True, send_with_next=True
    )
    pathway = insert_row(
        Pathway(participant=participant, referent_adviser=actor.user, started_on=timezone.localdate())
    )
    # Both chains' first events in one statement, with the grants.
    event = record_new_chains(
        [
            {
                "object_type": "participant",
                "object_id": participant.pk,
                "participant_id": participant.pk,
                "action": "create",
                "inputs": {"fields": sorted(clean)},
            },
            {
                "object_type": "pathway",
                "object_id": pathway.pk,
                "participant_id": participant.pk,
                "action": "create",
                "to_state": pathway.state,
            },
        ],
        actor=actor,
        along=granted,
    )[1]  # the pathway's
    work.object_created(obj=pathway, actor=actor, event=event)
    publish_on_commit(event)
    return participant


@transaction.atomic
def participant_update(
    *, actor, participant, changes: dict, allow_duplicate: bool = False, expected_version: int | None = None
) -> Participant:
    """Change participant data; the journal records which fields changed, never their values. An identity changed
    into another file's (same names, same birth date) is refused as a possible duplicate, unless the adviser
    confirms two people (`allow_duplicate`: the file is then a confirmed homonym, as at intake).

    `expected_version`: the `version` of the data the edit was made from (the form's, an API client's If-Match);
    if someone changed the file since, nothing is written and EditConflict says who changed what, and when."""
    participant = lock(Participant, participant, actor=actor)
    require(actor, "participant.update", participant, _("Vous ne pouvez pas modifier ce dossier."))
    refuse_closed_file(participant)
    if expected_version is not None and expected_version != participant.version:
        raise EditConflict(participant, since=expected_version)
    clean = _normalise(changes)
    changed = sorted(k for k, v in clean.items() if getattr(participant, k) != v)
    # Only what changes is judged (a birth date kept as it is never refuses an edit of the phone number).
    _validate({k: clean[k] for k in changed}, registered_on=timezone.localtime(participant.created_at).date())
    if not changed:
        return participant
    if (
        "imilo_reference" in changed
        and clean["imilo_reference"]
        and Participant.objects.filter(youth_agency=participant.youth_agency, imilo_reference=clean["imilo_reference"])
        .exclude(pk=participant.pk)
        .exists()
    ):
        raise DomainError(
            "duplicate_imilo_reference", _("Cet identifiant i-milo est déjà utilisé."), field="imilo_reference"
        )
    for name in changed:
        setattr(participant, name, clean[name])
    if (
        {"first_name", "last_name", "birth_date"} & set(changed)
        and not participant.homonym_confirmed
        and find_duplicates(
            actor=actor,
            first_name=participant.first_name,
            last_name=participant.last_name,
            birth_date=participant.birth_date,
            exclude=participant,
            youth_agency=participant.youth_agency,
        ).exists()
    ):
        if not allow_duplicate:
            raise DomainError("duplicate_participant", DUPLICATE_MESSAGE)
        participant.homonym_confirmed = True
        changed.append("homonym_confirmed")
    participant.version += 1
    _full_clean(participant)
    _save_unique(participant)
    event = record_event(
        actor=actor,
        object_type="participant",
        object_id=participant.pk,
        participant_id=participant.pk,
        action="update",
        inputs={"fields": changed},
    )
    publish_on_commit(event)
    return participant


class EditConflict(DomainError):
    """An edit made from an older version of the file: `changes` are the edits made since (who, when, which fields,
    oldest first, from the journal: one `update` event per version), `version` the file's current one."""

    def __init__(self, participant, *, since: int):
        self.version = participant.version
        missed = self.version - since if since < self.version else 0  # a version from the future names nobody
        events = (
            JournalEvent.objects.filter(object_type="participant", object_id=participant.pk, action="update")
            .select_related("actor_user")
            .order_by("-sequence")[: min(missed, MAX_CONFLICT_EDITS)]
            if missed
            else []
        )
        self.changes = [
            {
                "by": event.actor_user.get_full_name() or event.actor_user.get_username(),
                "at": event.occurred_at,
                "fields": list(event.inputs.get("fields", [])),
            }
            for event in reversed(list(events))
        ]
        self.fields = sorted({name for change in self.changes for name in change["fields"]}, key=FIELD_ORDER.index)
        self.current = {name: getattr(participant, name) for name in self.fields}  # for the form that shows them
        super().__init__("edit_conflict", _conflict_message(self.changes, self.fields))

    @property
    def extensions(self) -> dict:
        return {"version": self.version, "changed_fields": self.fields}


MAX_CONFLICT_EDITS = 20  # named in the message: who last changed the file; more is a page of history, not a message
FIELD_ORDER = [*Participant.JOURNALED_FIELDS, "homonym_confirmed"]


FIELD_LABELS = {
    "first_name": gettext_lazy("Prénom"),
    "last_name": gettext_lazy("Nom"),
    "birth_date": gettext_lazy("Date de naissance"),
    "email": gettext_lazy("Courriel"),
    "phone": gettext_lazy("Téléphone"),
    "postcode": gettext_lazy("Code postal"),
    "commune": gettext_lazy("Commune"),
    "is_qpv_resident": gettext_lazy("Réside en QPV"),
    "qualification_level": gettext_lazy("Niveau de qualification"),
    "programme": gettext_lazy("Dispositif"),
    "imilo_reference": gettext_lazy("Identifiant i-milo"),
    "sex": gettext_lazy("Sexe"),
    "homonym_confirmed": gettext_lazy("Homonyme confirmé"),
}


def field_label(name: str) -> str:
    """A file's field as its pages name it, in the reader's language (the message of an edit conflict)."""
    return str(FIELD_LABELS.get(name, name))


def _conflict_message(changes, fields) -> str:
    if not changes:  # an older version than the journal's edits (or a version never given): nothing to name
        return _(
            "Ce dossier a été modifié depuis que vous l'avez ouvert : rien n'a été enregistré. Vérifiez vos saisies "
            "face aux données actuelles, puis enregistrez à nouveau."
        )
    last = changes[-1]
    when = timezone.localtime(last["at"])
    return _(
        "Ce dossier a été modifié par %(by)s le %(day)s à %(time)s depuis que vous l'avez ouvert (%(fields)s) : "
        "rien n'a été enregistré. Vérifiez vos saisies face aux données actuelles, puis enregistrez à nouveau."
    ) % {
        "by": last["by"],
        "day": when.strftime("%d/%m/%Y"),
        "time": when.strftime("%H:%M"),
        "fields": ", ".join(field_label(name) for name in fields) or _("aucun champ"),
    }


def eligibility_validity_months():
    return settings.PARCOURS["ELIGIBILITY_VALIDITY_MONTHS"]


# --- The referent adviser -------------------------------------------------------------------------------------
REFERENT_REFUSED = gettext_lazy("Choisissez un·e conseiller·ère en poste dans la Mission Locale du dossier.")
CHANGE_REFERENT_FORBIDDEN = gettext_lazy("Vous ne pouvez pas changer le ou la référent·e de ce dossier.")


def _user_id(value, field, message) -> int:
    """A user's id from a user or an id; anything else is refused on `field` (never a hint of whose id it is)."""
    value = getattr(value, "pk", value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise DomainError("invalid_referent", str(message), field=field)
    return value


def _referent_id(adviser, organisation_id, field) -> int:
    """The id of `adviser` if they are an active adviser of the Mission Locale `organisation_id`, else one refusal
    whatever the reason (unknown id, another organisation or role, a membership ended, an account deactivated)."""
    adviser_id = _user_id(adviser, field, REFERENT_REFUSED)
    if not is_referent_candidate(organisation_id, adviser_id):
        raise DomainError("invalid_referent", str(REFERENT_REFUSED), field=field)
    return adviser_id


def _lock_file(actor, participant) -> Participant:
    """Lock the file and its pathways, the pathways first: the order a pathway's transition takes them (its state's
    update moves the file's `current_state`, a trigger's write on the file row), so that the two never wait for each
    other."""
    pk = row_pk(Participant, participant)
    list(
        Pathway.objects.filter(participant_id=pk)
        .select_for_update(of=("self",), no_key=True)
        .order_by("pk")
        .values("pk")
    )
    return lock(Participant, pk, actor=actor)


def _set_referent(*, actor, participant, adviser_id, bulk=False) -> None:
    """Write the new referent on the locked file and its pathway (a young person's tasks go to the pathway's referent,
    parcours.work), journal it (ids only) and tell on commit."""
    previous = participant.referent_adviser_id
    participant.referent_adviser_id = adviser_id
    participant.save(update_fields=["referent_adviser", "updated_at"])
    # A bulk update skips auto_now: the pathways' updated_at is what an API client's `updated_since` sync reads.
    Pathway.objects.filter(participant_id=participant.pk).update(
        referent_adviser_id=adviser_id, updated_at=timezone.now()
    )
    inputs = {"from": previous, "to": adviser_id}
    if bulk:
        inputs["bulk"] = True
    event = record_event(
        actor=actor,
        object_type="participant",
        object_id=participant.pk,
        participant_id=participant.pk,
        action="change_referent",
        inputs=inputs,
    )
    publish_on_commit(event)


@transaction.atomic
def participant_change_referent(*, actor, participant, adviser) -> Participant:
    """Make `adviser` (a user or a user id) the referent of the file: an active adviser of the file's Mission Locale.
    Refused on an anonymised file; nothing is written when they already are the referent."""
    participant = _lock_file(actor, participant)
    require(actor, "participant.change_referent", participant, str(CHANGE_REFERENT_FORBIDDEN))
    refuse_closed_file(participant)
    adviser_id = _referent_id(adviser, participant.youth_agency_id, "adviser")
    if adviser_id == participant.referent_adviser_id:
        return participant
    _set_referent(actor=actor, participant=participant, adviser_id=adviser_id)
    return participant


@transaction.atomic
def participant_hand_over(*, actor, from_adviser, to_adviser) -> int:
    """Hand over every open (not anonymised) file of the actor's Mission Locale whose referent is `from_adviser` (a
    member or a former member: someone who left) to `to_adviser`, an active adviser there; each file locked (in id
    order) and journaled as a change of referent. How many files moved (0: none was theirs any more)."""
    organisation = None if actor is None else actor.organisation
    if not policy.may(actor, "participant.change_referent") or organisation is None:
        raise DomainError("forbidden", str(CHANGE_REFERENT_FORBIDDEN))
    if organisation.kind != OrganisationKind.MISSION_LOCALE:
        raise DomainError("forbidden", str(CHANGE_REFERENT_FORBIDDEN))
    from_id = _user_id(
        from_adviser, "from_adviser", gettext_lazy("Choisissez la personne dont les dossiers sont à transmettre.")
    )
    to_id = _referent_id(to_adviser, actor.organisation_id, "to_adviser")
    if from_id == to_id:
        raise DomainError(
            "invalid_referent",
            _("Choisissez une autre personne que celle dont les dossiers sont à transmettre."),
            field="to_adviser",
        )
    moved = 0
    for pk in list(open_files_of(actor, from_id).order_by("pk").values_list("pk", flat=True)):
        participant = _lock_file(actor, pk)
        # Read again under its lock: changed or anonymised meanwhile, it is left as it now is.
        if participant.referent_adviser_id != from_id or participant.anonymised_at is not None:
            continue
        require(actor, "participant.change_referent", participant, str(CHANGE_REFERENT_FORBIDDEN))
        _set_referent(actor=actor, participant=participant, adviser_id=to_id, bulk=True)
        moved += 1
    return moved
