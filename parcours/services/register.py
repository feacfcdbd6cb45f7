"""The clause register: operations → contracts → lots (with clause sizing) → job offers."""

import decimal
import json
import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.models import ContractLot, CountingModeRule, CountingRuleSet, JobOffer, Operation, PublicContract
from parcours.notifications import publish_on_commit
from parcours.selectors.register import counting_rule_sets_for
from parcours.services.common import hold_row, lock, require
from roles.enums import OrganisationKind
from roles.models import Organisation
from workflows.errors import DomainError
from workflows.inputs import check_plausible_date, check_value
from workflows.journal import record_event
from workflows.text import clean_text
from workflows.transitions import WEEKLY_HOURS
from workflows.vocabulary import FulfilmentMode, SizingMethod

DEFAULT_COUNTING_RULES = Path(__file__).resolve().parent.parent / "data" / "counting_rules.json"


def size_clause(
    *,
    method,
    amount_excl_tax,
    labour_share=None,
    hourly_cost=None,
    insertion_rate=None,
    fixed_hours=None,
    amount_per_hour=None,
) -> decimal.Decimal:
    """Target insertion hours of a lot (dimensionnement), by the facilitators' standard methods."""
    if method == SizingMethod.LABOUR_SHARE:
        if not (labour_share and hourly_cost and insertion_rate):
            raise DomainError(
                "missing_input", _("Part de main-d'œuvre, coût horaire et taux d'insertion sont requis.")
            )
        hours = decimal.Decimal(amount_excl_tax) * labour_share / hourly_cost * insertion_rate
    elif method == SizingMethod.PER_AMOUNT:
        if not amount_per_hour:
            raise DomainError("missing_input", _("Le montant par heure d'insertion est requis."))
        hours = decimal.Decimal(amount_excl_tax) / amount_per_hour
    elif method == SizingMethod.FIXED:
        if fixed_hours is None:
            raise DomainError("missing_input", _("Le nombre d'heures forfaitaire est requis."))
        hours = decimal.Decimal(fixed_hours)
    else:
        raise DomainError(
            "invalid_input", _("Méthode de calcul inconnue : %(method)s.") % {"method": method}, field="sizing_method"
        )
    return hours.quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP)


def _save(obj):
    try:
        obj.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError("invalid_input", messages[0], field=field) from None
    obj.save()
    return obj


MAX_WINDOW_YEARS = 10  # an operation or a lot executed over longer than this is a typing slip (year 1 to 9999)
MAX_TARGET_HOURS = decimal.Decimal(1_000_000)


def _check_window(starts_on, ends_on, *, label):
    """Both dates plausible, the end on or after the start, at most MAX_WINDOW_YEARS apart."""
    for value, field in ((starts_on, f"{label}starts_on"), (ends_on, f"{label}ends_on")):
        if value is not None:
            check_plausible_date(value, field=field, label="Date")
    if starts_on is None or ends_on is None:
        return
    if ends_on < starts_on:
        raise DomainError("invalid_input", _("La fin ne peut pas précéder le début."), field=f"{label}ends_on")
    if (ends_on - starts_on).days > 366 * MAX_WINDOW_YEARS:
        raise DomainError(
            "invalid_input",
            _("%(max_window_years)s ans au plus entre le début et la fin.") % {"max_window_years": MAX_WINDOW_YEARS},
            field=f"{label}ends_on",
        )


def _journal(actor, obj, object_type, action="create", **inputs):
    return record_event(actor=actor, object_type=object_type, object_id=obj.pk, action=action, inputs=inputs)


@transaction.atomic
def operation_create(*, actor, name, commune, starts_on, ends_on, is_anru=False) -> Operation:
    require(actor, "register.create", message=_("Seul·e un·e facilitateur·rice tient le registre des clauses."))
    if actor.organisation.kind != OrganisationKind.FACILITATION:
        raise DomainError("forbidden", _("Seule une structure porteuse tient le registre des clauses."))
    _check_window(starts_on, ends_on, label="")
    # A form posted twice (a double click, a second tab) would open the operation twice: the organisation's row
    # orders its creations, and an operation of the same name and commune is refused by name.
    hold_row(Organisation, actor.organisation.pk)
    same = (str(name or "").strip().casefold(), str(commune or "").strip().casefold())
    if any(
        (n.strip().casefold(), c.strip().casefold()) == same
        for n, c in Operation.objects.filter(facilitation_organisation=actor.organisation).values_list(
            "name", "commune"
        )
    ):
        raise DomainError(
            "duplicate_operation",
            _("L'opération « %(name)s » (%(commune)s) existe déjà dans votre registre.")
            % {"name": name, "commune": commune},
            field="name",
        )
    operation = _save(
        Operation(
            name=name,
            commune=commune,
            starts_on=starts_on,
            ends_on=ends_on,
            is_anru=is_anru,
            facilitation_organisation=actor.organisation,
        )
    )
    _journal(actor, operation, "operation")
    return operation


def platform_counting_rules() -> CountingRuleSet:
    """The platform's default counting rules (parcours/data/counting_rules.json, loaded by a migration), created
    again if an administrator removed every version."""
    data = json.loads(DEFAULT_COUNTING_RULES.read_text(encoding="utf-8"))
    modes = data.pop("modes")
    rule_set, created = CountingRuleSet.objects.get_or_create(
        name=data["name"], version=data["version"], defaults=data
    )
    if created:
        CountingModeRule.objects.bulk_create(CountingModeRule(rule_set=rule_set, **row) for row in modes)
    return rule_set


def contract_reference(value) -> str:
    """A contract's reference as stored: clean text, stripped, inner runs of spaces made one. Within an operation
    references are compared without regard to case (« qa-3 » is « QA-3 »)."""
    return " ".join(clean_text(str(value), field="reference", label=_("Référence du marché")).split())


@transaction.atomic
def contract_create(
    *, actor, operation, reference, title, buyer, legal_lever, notified_on=None, penalty_per_missing_hour=None
) -> PublicContract:
    operation = Operation.objects.select_for_update().get(pk=getattr(operation, "pk", operation))
    if operation.facilitation_organisation_id != actor.organisation_id:
        raise DomainError("not_found", _("Opération introuvable."))
    require(actor, "register.create", message=_("Seul·e un·e facilitateur·rice tient le registre des clauses."))
    if buyer.kind != OrganisationKind.AUTHORITY:
        raise DomainError("invalid_input", _("L'acheteur doit être un acheteur public."), field="buyer")
    if notified_on is not None:
        # A contract may be registered before its notification (the clause is sized upstream), with the day planned:
        # a date ahead is allowed, one out of any case's bounds (9999, 1900) is a slip.
        check_plausible_date(notified_on, field="notified_on", label=_("Date de notification"))
    reference = contract_reference(reference)
    # The operation's row is locked above: two creations in one operation check one after the other.
    if operation.contracts.filter(reference__iexact=reference).exists():
        raise DomainError(
            "invalid_input",
            _("La référence %(reference)s existe déjà dans cette opération.") % {"reference": reference},
            field="reference",
        )
    contract = _save(
        PublicContract(
            operation=operation,
            reference=reference,
            title=title,
            buyer=buyer,
            legal_lever=legal_lever,
            notified_on=notified_on,
            penalty_per_missing_hour=penalty_per_missing_hour,
        )
    )
    _journal(actor, contract, "contract", operation=operation.pk)
    return contract


@transaction.atomic
def lot_create(
    *,
    actor,
    contract,
    number,
    title,
    trade,
    amount_excl_tax,
    sizing_method,
    execution_starts_on,
    execution_ends_on,
    fulfilment_modes,
    awardee=None,
    labour_share=None,
    hourly_cost=None,
    insertion_rate=None,
    target_hours=None,
    amount_per_hour=None,
    fixed_hours=None,
    counting_rules=None,
) -> ContractLot:
    # The contract's row locked: two creations of lots in one contract check their numbers one after the other.
    contract = (
        PublicContract.objects.select_related("operation")
        .select_for_update(of=("self",))
        .get(pk=getattr(contract, "pk", contract))
    )
    if contract.operation.facilitation_organisation_id != actor.organisation_id:
        raise DomainError("not_found", _("Marché introuvable."))
    require(actor, "register.create", message=_("Seul·e un·e facilitateur·rice tient le registre des clauses."))
    if contract.lots.filter(number=number).exists():
        raise DomainError(
            "invalid_input", _("Ce marché a déjà un lot n° %(number)s.") % {"number": number}, field="number"
        )
    unknown = [m for m in fulfilment_modes if m not in FulfilmentMode.values]
    if not fulfilment_modes or unknown:
        raise DomainError(
            "invalid_input", _("Choisissez des modalités de mise en œuvre valides."), field="fulfilment_modes"
        )
    if awardee is not None and awardee.kind != OrganisationKind.EMPLOYER:
        raise DomainError("invalid_input", _("L'attributaire doit être une entreprise."), field="awardee")
    rules = counting_rule_sets_for(actor.organisation)
    if counting_rules is None:
        counting_rules = rules.first() or platform_counting_rules()
    elif not rules.filter(pk=getattr(counting_rules, "pk", counting_rules)).exists():
        raise DomainError(
            "invalid_input",
            _("Ces règles de comptage ne sont pas proposées à votre structure."),
            field="counting_rules",
        )
    if target_hours is None:
        target_hours = size_clause(
            method=sizing_method,
            amount_excl_tax=amount_excl_tax,
            labour_share=labour_share,
            hourly_cost=hourly_cost,
            insertion_rate=insertion_rate,
            amount_per_hour=amount_per_hour,
            fixed_hours=fixed_hours,
        )
    if not decimal.Decimal(0) < decimal.Decimal(target_hours) <= MAX_TARGET_HOURS:
        raise DomainError(
            "invalid_input",
            _("Heures d'insertion prévues : entre 1 et %(maximum)s.")
            % {"maximum": f"{MAX_TARGET_HOURS:,.0f}".replace(",", "\u202f")},
            field="target_hours",
        )
    _check_window(execution_starts_on, execution_ends_on, label="execution_")
    lot = _save(
        ContractLot(
            contract=contract,
            number=number,
            title=title,
            trade=trade,
            amount_excl_tax=amount_excl_tax,
            sizing_method=sizing_method,
            labour_share=labour_share,
            hourly_cost=hourly_cost,
            insertion_rate=insertion_rate,
            target_hours=target_hours,
            fulfilment_modes=list(fulfilment_modes),
            execution_starts_on=execution_starts_on,
            execution_ends_on=execution_ends_on,
            awardee=awardee,
            counting_rules_id=getattr(counting_rules, "pk", counting_rules),
        )
    )
    _journal(
        actor,
        lot,
        "lot",
        contract=contract.pk,
        target_hours=target_hours,
        sizing_method=sizing_method,
        counting_rules=lot.counting_rules_id,
    )
    return lot


ROME_CODE_RE = re.compile(r"[A-Z][0-9]{4}", re.ASCII)


def clean_rome_code(value) -> str:
    """A job's code in France Travail's ROME: one letter and four digits (F1703), upper-cased; empty if not given."""
    value = clean_text(value, field="rome_code", label=_("Code ROME")).upper()
    if value and not (value.isascii() and ROME_CODE_RE.fullmatch(value)):
        raise DomainError(
            "invalid_input", _("Code ROME : une lettre et 4 chiffres attendus (ex. F1703)."), field="rome_code"
        )
    return value


@transaction.atomic
def offer_create(
    *,
    actor,
    lot,
    title,
    trade,
    contract_type,
    weekly_hours,
    location,
    positions=1,
    is_qpv_mandatory=False,
    market_context="",
    rome_code="",
) -> JobOffer:
    lot = lock(ContractLot, lot, actor=actor)
    require(actor, "offer.create", lot, _("Seule la structure porteuse du lot publie ses offres."))
    # Employers, advisers and exports show these texts: the text rules of every input (workflows.text).
    title = clean_text(title, field="title", label=_("Intitulé du poste"))
    trade = clean_text(trade, field="trade", label=_("Métier"))
    location = clean_text(location, field="location", label=_("Lieu"))
    market_context = clean_text(
        market_context or "", field="market_context", label=_("Contexte du marché"), multiline=True
    )
    rome_code = clean_rome_code(rome_code or "")
    weekly_hours = check_value(WEEKLY_HOURS, weekly_hours)  # as a hire's (workflows.transitions)
    # The same offer open twice on the lot (a form posted twice: the lot's lock ordered them) is a slip: more people
    # for one job are its positions.
    same = (title.casefold(), trade.casefold(), location.casefold())
    if any(
        (t.casefold(), tr.casefold(), loc.casefold()) == same
        for t, tr, loc in JobOffer.objects.filter(
            lot=lot, is_open=True, contract_type=contract_type, weekly_hours=weekly_hours
        ).values_list("title", "trade", "location")
    ):
        raise DomainError(
            "duplicate_offer",
            _(
                "L'offre « %(title)s » (%(location)s) est déjà ouverte sur ce lot. Pour d'autres postes du même "
                "emploi, distinguez-les par l'intitulé ou le lieu (« %(title)s — 2e équipe »), ou clôturez l'offre "
                "ouverte pour la publier à nouveau avec le nombre total de postes."
            )
            % {"title": title, "location": location},
            field="title",
        )
    offer = _save(
        JobOffer(
            lot=lot,
            title=title,
            trade=trade,
            contract_type=contract_type,
            weekly_hours=weekly_hours,
            location=location,
            positions=positions,
            is_qpv_mandatory=is_qpv_mandatory,
            market_context=market_context,
            rome_code=rome_code,
        )
    )
    event = _journal(actor, offer, "offer", lot=lot.pk)
    publish_on_commit(event)
    return offer


@transaction.atomic
def offer_close(*, actor, offer) -> JobOffer:
    offer = lock(JobOffer, offer, actor=actor)
    require(actor, "offer.close", offer, _("Seule la structure porteuse du lot clôture ses offres."))
    if not offer.is_open:
        raise DomainError("invalid_transition", _("Cette offre est déjà clôturée."))
    offer.is_open, offer.closed_at = False, timezone.now()
    offer.save()
    event = _journal(actor, offer, "offer", action="close")
    publish_on_commit(event)
    return offer
