import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from parcours.models import Participant, Pathway
from parcours.notifications import publish_on_commit
from parcours.services.common import lock, require, require_choice, require_date
from roles.enums import OrganisationKind
from roles.grants import share_participant
from workflows import work
from workflows.errors import DomainError
from workflows.journal import record_event
from workflows.vocabulary import Programme, QualificationLevel, Sex

MIN_AGE, MAX_AGE = 16, 25
REQUIRED = {
    "first_name": "Prénom",
    "last_name": "Nom",
    "birth_date": "Date de naissance",
    "postcode": "Code postal",
    "commune": "Commune",
    "qualification_level": "Niveau de qualification",
}
EDITABLE = set(Participant.JOURNALED_FIELDS)


def _normalise(data: dict) -> dict:
    unknown = sorted(set(data) - EDITABLE)
    if unknown:
        raise DomainError("unknown_input", f"Donnée inattendue : {', '.join(unknown)}.", field=unknown[0])
    clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    return clean


def _validate(clean: dict, *, creating: bool):
    for name, label in REQUIRED.items():
        if (creating or name in clean) and not clean.get(name):
            raise DomainError("missing_input", f"{label} : ce champ est obligatoire.", field=name)
    if "birth_date" in clean:
        birth = require_date(clean["birth_date"], "birth_date", "Date de naissance")
        age = Participant(birth_date=birth).age_on(timezone.localdate())
        if creating and not (MIN_AGE <= age <= MAX_AGE):
            raise DomainError(
                "age_out_of_range",
                f"Les Missions Locales accueillent les jeunes de {MIN_AGE} à {MAX_AGE} ans (âge calculé : {age} ans).",
                field="birth_date",
            )
    if "postcode" in clean and not re.fullmatch(r"\d{5}", str(clean["postcode"])):
        raise DomainError("invalid_input", "Code postal : 5 chiffres attendus.", field="postcode")
    if "qualification_level" in clean:
        require_choice(
            clean["qualification_level"], QualificationLevel, "qualification_level", "Niveau de qualification"
        )
    if "programme" in clean:
        require_choice(clean["programme"], Programme, "programme", "Dispositif")
    if "sex" in clean:
        require_choice(clean["sex"] or "", Sex, "sex", "Sexe")


def _full_clean(participant):
    try:
        participant.full_clean(exclude=["youth_agency", "referent_adviser"], validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError("invalid_input", f"{messages[0]}", field=field) from None


def find_duplicates(*, actor, first_name, last_name, birth_date):
    """Participants of the actor's Mission Locale who look like the same person (never other agencies')."""
    return Participant.objects.filter(
        youth_agency=actor.organisation,
        first_name__iexact=first_name.strip(),
        last_name__iexact=last_name.strip(),
        birth_date=birth_date,
    )


@transaction.atomic
def participant_create(*, actor, data: dict, allow_duplicate: bool = False) -> Participant:
    """Register a young person (intake): the participant, an open pathway, the Mission Locale's grants."""
    require(actor, "participant.create", message="Seul·e un·e conseiller·ère peut inscrire un·e jeune.")
    if actor.organisation.kind != OrganisationKind.MISSION_LOCALE:
        raise DomainError("forbidden", "Seule une Mission Locale peut inscrire un·e jeune.")
    clean = _normalise(data)
    _validate(clean, creating=True)
    if (
        not allow_duplicate
        and find_duplicates(
            actor=actor, first_name=clean["first_name"], last_name=clean["last_name"], birth_date=clean["birth_date"]
        ).exists()
    ):
        raise DomainError(
            "duplicate_participant",
            "Un·e jeune avec les mêmes nom, prénom et date de naissance est déjà suivi·e par votre Mission Locale.",
        )
    if (
        clean.get("imilo_reference")
        and Participant.objects.filter(
            youth_agency=actor.organisation, imilo_reference=clean["imilo_reference"]
        ).exists()
    ):
        raise DomainError(
            "duplicate_imilo_reference", "Cet identifiant i-milo est déjà utilisé.", field="imilo_reference"
        )
    participant = Participant(youth_agency=actor.organisation, referent_adviser=actor.user, **clean)
    _full_clean(participant)
    participant.save()
    share_participant(organisation=actor.organisation, participant=participant, manage=True)
    pathway = Pathway.objects.create(
        participant=participant, referent_adviser=actor.user, started_on=timezone.localdate()
    )
    record_event(
        actor=actor,
        object_type="participant",
        object_id=participant.pk,
        participant_id=participant.pk,
        action="create",
        inputs={"fields": sorted(clean)},
    )
    event = record_event(
        actor=actor,
        object_type="pathway",
        object_id=pathway.pk,
        participant_id=participant.pk,
        action="create",
        to_state=pathway.state,
    )
    work.object_created(obj=pathway, actor=actor, event=event)
    publish_on_commit(event)
    return participant


@transaction.atomic
def participant_update(*, actor, participant, changes: dict) -> Participant:
    """Change participant data; the journal records which fields changed, never their values."""
    participant = lock(Participant, participant, actor=actor)
    require(actor, "participant.update", participant, "Vous ne pouvez pas modifier ce dossier.")
    clean = _normalise(changes)
    _validate(clean, creating=False)
    changed = sorted(k for k, v in clean.items() if getattr(participant, k) != v)
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
            "duplicate_imilo_reference", "Cet identifiant i-milo est déjà utilisé.", field="imilo_reference"
        )
    for name in changed:
        setattr(participant, name, clean[name])
    _full_clean(participant)
    participant.save()
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


def eligibility_validity_months():
    return settings.PARCOURS["ELIGIBILITY_VALIDITY_MONTHS"]
