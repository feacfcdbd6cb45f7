"""Facilitator pages: clause register (operations → contracts → lots → offers), referrals to review,
eligibility to validate, hours lines to validate. Views parse, call a selector or a service, render."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from parcours import selectors
from parcours.services import pathways, register
from parcours.web import statements
from parcours.web.common import (
    paginate,
    role_required,
    row_actions,
    run_service,
    safe_next,
    state_choices,
    states_from_request,
)
from parcours.web.forms import (
    BootstrapFormMixin,
    DateField,
    DateInput,
    FrenchDecimalField,
    IntegerField,
    ModelChoiceField,
    input_field,
    transition_form_class,
)
from roles.enums import Role
from workflows.errors import DomainError
from workflows.transitions import PATHWAY, WEEKLY_HOURS
from workflows.vocabulary import ContractType, FulfilmentMode, LegalLever, SizingMethod


# --- Forms ------------------------------------------------------------------------------------------------------
class OperationForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom de l'opération"), max_length=200)
    commune = forms.CharField(label=gettext_lazy("Commune"), max_length=100)
    starts_on = DateField(label=gettext_lazy("Début"), widget=DateInput())
    ends_on = DateField(label=gettext_lazy("Fin"), widget=DateInput())
    is_anru = forms.BooleanField(label=gettext_lazy("Opération ANRU / QPV"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", gettext("La fin doit être postérieure au début."))
        return data


class _ContractFields(forms.Form):
    operation = ModelChoiceField(
        label=gettext_lazy("Opération"), queryset=None, empty_label=gettext_lazy("— choisir —")
    )
    reference = forms.CharField(label=gettext_lazy("Référence du marché"), max_length=50)
    title = forms.CharField(label=gettext_lazy("Objet"), max_length=200)
    buyer = ModelChoiceField(
        label=gettext_lazy("Acheteur public"), queryset=None, empty_label=gettext_lazy("— choisir —")
    )
    legal_lever = forms.ChoiceField(label=gettext_lazy("Levier juridique"), choices=LegalLever.choices)
    notified_on = DateField(label=gettext_lazy("Notifié le"), required=False, widget=DateInput())
    penalty_per_missing_hour = FrenchDecimalField(
        label=gettext_lazy("Pénalité par heure d'insertion manquante (€)"),
        help_text=gettext_lazy(
            "Celle du CCAP, s'il en prévoit une : les bilans proposent heures manquantes × ce taux ; vide, ils "
            "disent « non prévue au marché »."
        ),
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=2,
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operation"].queryset = selectors.operations_for(actor)
        self.fields["buyer"].queryset = selectors.buyer_organisations()


class ContractForm(BootstrapFormMixin, _ContractFields):
    """(The choices are scoped in the base class, before the mixin looks at the errors.)"""


class _LotFields(forms.Form):
    contract = ModelChoiceField(label=gettext_lazy("Marché"), queryset=None, empty_label=gettext_lazy("— choisir —"))
    number = IntegerField(label=gettext_lazy("Numéro du lot"), min_value=1, max_value=999)
    title = forms.CharField(label=gettext_lazy("Intitulé"), max_length=200)
    trade = forms.CharField(label=gettext_lazy("Corps de métier"), max_length=100)
    amount_excl_tax = FrenchDecimalField(
        label=gettext_lazy("Montant HT (€)"), min_value=0, max_digits=12, decimal_places=2
    )
    sizing_method = forms.ChoiceField(label=gettext_lazy("Méthode de calcul des heures"), choices=SizingMethod.choices)
    labour_share = FrenchDecimalField(
        label=gettext_lazy("Part de main-d'œuvre (0 à 1)"),
        required=False,
        min_value=0,
        max_value=1,
        max_digits=4,
        decimal_places=3,
    )
    hourly_cost = FrenchDecimalField(
        label=gettext_lazy("Coût horaire moyen (€)"), required=False, min_value=0, max_digits=6, decimal_places=2
    )
    insertion_rate = FrenchDecimalField(
        label=gettext_lazy("Taux d'insertion (0 à 1)"),
        required=False,
        min_value=0,
        max_value=1,
        max_digits=4,
        decimal_places=3,
    )
    amount_per_hour = FrenchDecimalField(
        label=gettext_lazy("Montant HT par heure d'insertion (€)"),
        required=False,
        min_value=0,
        max_digits=9,
        decimal_places=2,
    )
    fixed_hours = FrenchDecimalField(
        label=gettext_lazy("Heures forfaitaires"), required=False, min_value=0, max_digits=9, decimal_places=2
    )
    execution_starts_on = DateField(label=gettext_lazy("Début d'exécution"), widget=DateInput())
    execution_ends_on = DateField(label=gettext_lazy("Fin d'exécution"), widget=DateInput())
    fulfilment_modes = forms.MultipleChoiceField(
        label=gettext_lazy("Modalités de mise en œuvre autorisées"),
        choices=FulfilmentMode.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    awardee = ModelChoiceField(
        label=gettext_lazy("Attributaire (entreprise)"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("— pas encore attribué —"),
    )
    counting_rules = ModelChoiceField(
        label=gettext_lazy("Règles de comptage des heures"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("— les plus récentes de votre structure (à défaut, celles de la plateforme) —"),
        help_text=gettext_lazy(
            "La charte et la version qui compteront les heures du lot (bilans, tableau de bord). Une version "
            "utilisée n'est jamais modifiée : une nouvelle version est publiée dans l'administration."
        ),
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contract"].queryset = selectors.contracts_for(actor)
        self.fields["awardee"].queryset = selectors.awardee_organisations()
        self.fields["counting_rules"].queryset = selectors.counting_rule_sets_for(actor.organisation)


class LotForm(BootstrapFormMixin, _LotFields):
    def clean(self):
        data = super().clean()
        start, end = data.get("execution_starts_on"), data.get("execution_ends_on")
        if start and end and end < start:
            self.add_error("execution_ends_on", gettext("La fin d'exécution doit être postérieure au début."))
        method = data.get("sizing_method")
        needed = {
            SizingMethod.LABOUR_SHARE: ["labour_share", "hourly_cost", "insertion_rate"],
            SizingMethod.PER_AMOUNT: ["amount_per_hour"],
            SizingMethod.FIXED: ["fixed_hours"],
        }.get(method, [])
        for name in needed:
            if data.get(name) in (None, "") and name not in self.errors:
                self.add_error(name, gettext("Ce champ est obligatoire pour cette méthode de calcul."))
        for name in ("hourly_cost", "amount_per_hour"):
            if name in needed and data.get(name) == 0:
                self.add_error(name, gettext("Une valeur strictement positive est attendue."))
        return data

    def to_service_kwargs(self):
        data = dict(self.cleaned_data)
        method = data["sizing_method"]
        keep = {
            SizingMethod.LABOUR_SHARE: {"labour_share", "hourly_cost", "insertion_rate"},
            SizingMethod.PER_AMOUNT: {"amount_per_hour"},
            SizingMethod.FIXED: {"fixed_hours"},
        }[method]
        for name in {"labour_share", "hourly_cost", "insertion_rate", "amount_per_hour", "fixed_hours"} - keep:
            data.pop(name)
        return data


class OfferForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=gettext_lazy("Intitulé du poste"), max_length=200)
    trade = forms.CharField(label=gettext_lazy("Métier"), max_length=100)
    rome_code = forms.CharField(label=gettext_lazy("Code ROME"), max_length=5, required=False)
    contract_type = forms.ChoiceField(label=gettext_lazy("Type de contrat"), choices=ContractType.choices)
    weekly_hours = input_field(WEEKLY_HOURS)  # as the hire's (a decimal: 17,5 h)
    location = forms.CharField(label=gettext_lazy("Lieu"), max_length=100)
    positions = IntegerField(label=gettext_lazy("Nombre de postes"), min_value=1, max_value=999, initial=1)
    is_qpv_mandatory = forms.BooleanField(label=gettext_lazy("Réservé aux résidents QPV"), required=False)
    market_context = forms.CharField(
        label=gettext_lazy("Contexte du marché"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- Referrals ----------------------------------------------------------------------------------------------------
@role_required(Role.FACILITATOR)
def referrals(request, *, actor):
    states = states_from_request(request, "referral", selectors.REFERRALS_WAITING_FOR_FACILITATOR)
    page = paginate(request, selectors.referrals_to_review(actor=actor, states=states), ids_first=True)
    return render(
        request,
        "facilitator/referrals.html",
        {"page": page, "states": state_choices("referral", states), "all_states": not states},
    )


# --- Eligibility --------------------------------------------------------------------------------------------------
@role_required(Role.FACILITATOR)
def eligibility(request, *, actor):
    page = paginate(request, selectors.eligibility_to_validate(actor), ids_first=True)
    return render(request, "facilitator/eligibility.html", {"page": page})


@role_required(Role.FACILITATOR)
def validate_eligibility(request, pk, *, actor):
    pathway = selectors.pathway_for_validation(actor=actor, pk=pk)
    if pathway is None:
        raise Http404("Parcours introuvable.")
    back = safe_next(request, reverse("facilitator:eligibility"))  # e.g. the participant's file, the task
    if pathway.state != "eligibility_pending":
        messages.info(
            request,
            gettext("Ce parcours n'attend plus de validation (état : %(state)s).")
            % {"state": pathway.get_state_display()},
        )
        return redirect(back)
    try:  # the criteria are personal (some are health data): the read is logged
        participant = selectors.participant_file(actor=actor, participant_id=pathway.participant_id)
    except DomainError:
        raise Http404("Participant·e introuvable.") from None
    assessment, criteria = selectors.declared_criteria(pathway)
    form_class = transition_form_class(PATHWAY["validate_eligibility"])
    status, unseen = 200, []
    if request.method == "POST":
        form = form_class(request.POST, obj=pathway, actor=actor)
        if form.is_valid():
            inputs = form.to_service_kwargs()
            unseen = selectors.criteria_without_proof(assessment, inputs.get("proofs")) if assessment else []
            # A criterion without a proof seen is worth a second look: validated only once confirmed.
            refused_anyway = settings.PARCOURS["ELIGIBILITY_PROOF_REQUIRED"]  # then the service says no
            if unseen and not refused_anyway and not request.POST.get("confirm_unseen"):
                return _validation_page(
                    request, pathway, participant, assessment, criteria, form, unseen, back=back, status=400
                )
            done = run_service(
                request,
                form,
                lambda: pathways.pathway_validate_eligibility(actor=actor, pathway=pathway, **inputs),
                success=gettext("Éligibilité validée pour %(participant)s.") % {"participant": participant},
                back=back,
            )
            if done is not None:
                return done
        status = form.refusal_status()
    else:
        form = form_class(obj=pathway, actor=actor)
    return _validation_page(
        request, pathway, participant, assessment, criteria, form, unseen, back=back, status=status
    )


def _validation_page(request, pathway, participant, assessment, criteria, form, unseen, *, back, status):
    """The page; sent back with an error, the confirmation of criteria without a proof seen stays ticked (it was
    asked again after each refusal)."""
    rows = [(row, form[f"proof_kind_{row.criterion.code}"], form[f"seen_on_{row.criterion.code}"]) for row in criteria]
    return render(
        request,
        "facilitator/validate_eligibility.html",
        {
            "pathway": pathway,
            "participant": participant,
            "assessment": assessment,
            "form": form,
            "rows": rows,
            "unseen": unseen,
            "all_unseen": bool(unseen) and len(unseen) == len(criteria),
            "confirmed": request.method == "POST" and bool(request.POST.get("confirm_unseen")),
            "back": back,
        },
        status=status,
    )


# --- Hours ----------------------------------------------------------------------------------------------------------
@role_required(Role.FACILITATOR)
def hours(request, *, actor):
    states = states_from_request(request, "hoursline", selectors.HOURS_WAITING_FOR_FACILITATOR)
    # Ids first: the lines are chosen on their own rows (one range of the waiting lines per lot), then the page's 25
    # joined; joined first, PostgreSQL joined the latest lines of every organisation before checking their lot
    # (752 for 25: 11 → 4 ms at 1,000,000 pathways).
    page = paginate(request, selectors.hours_lines_to_validate(actor=actor, states=states), ids_first=True)
    row_actions(page.object_list, actor, "hoursline.view")
    return render(
        request,
        "facilitator/hours.html",
        {"page": page, "states": state_choices("hoursline", states), "all_states": not states},
    )


# --- Clause register ------------------------------------------------------------------------------------------------
@role_required(Role.FACILITATOR)
def register_index(request, *, actor):
    return render(request, "facilitator/register.html", {"operations": selectors.register_operations_for(actor)})


def _create_page(
    request,
    *,
    actor,
    form_class,
    service,
    title,
    submit,
    success,
    template="facilitator/create.html",
    initial=None,
    to_kwargs=None,
    done=None,
):
    status = 200
    extra = {} if form_class is OperationForm else {"actor": actor}
    if request.method == "POST":
        form = form_class(request.POST, **extra)
        if form.is_valid():
            kwargs = to_kwargs(form) if to_kwargs else dict(form.cleaned_data)
            done = run_service(
                request,
                form,
                lambda: service(actor=actor, **kwargs),
                success=success,
                back=reverse("facilitator:register"),
                done=done,
            )
            if done is not None:
                return done
        status = 400
    else:
        form = form_class(initial=initial, **extra)
    return render(request, template, {"form": form, "title": title, "submit": submit}, status=status)


@role_required(Role.FACILITATOR)
def operation_create(request, *, actor):
    return _create_page(
        request,
        actor=actor,
        form_class=OperationForm,
        service=register.operation_create,
        title=gettext("Nouvelle opération"),
        submit=gettext("Créer l'opération"),
        success=gettext("Opération créée."),
    )


@role_required(Role.FACILITATOR)
def contract_create(request, *, actor):
    return _create_page(
        request,
        actor=actor,
        form_class=ContractForm,
        service=register.contract_create,
        title=gettext("Nouveau marché"),
        submit=gettext("Créer le marché"),
        success=gettext("Marché créé."),
        initial={"operation": request.GET.get("operation")},
    )


@role_required(Role.FACILITATOR)
def lot_create(request, *, actor):
    return _create_page(
        request,
        actor=actor,
        form_class=LotForm,
        service=register.lot_create,
        title=gettext("Nouveau lot"),
        submit=gettext("Créer le lot"),
        # Its page next: the lot's offers are published there.
        success=lambda lot: gettext("« %(lot)s » créé : publiez ses offres ci-dessous.") % {"lot": lot},
        done=lambda lot: reverse("facilitator:lot_detail", args=[lot.pk]),
        initial={"contract": request.GET.get("contract")},
        to_kwargs=LotForm.to_service_kwargs,
        template="facilitator/lot_create.html",
    )


@role_required(Role.FACILITATOR)
def lot_detail(request, pk, *, actor):
    lot = selectors.lot_for(actor=actor, pk=pk)
    if lot is None:
        raise Http404("Lot introuvable.")
    return _render_lot(request, actor, lot)


def _render_lot(request, actor, lot, offer_form=None, status=200):
    return render(
        request,
        "facilitator/lot_detail.html",
        {
            "lot": lot,
            "offers": selectors.lot_offers(actor=actor, lot=lot),
            "offer_form": offer_form or OfferForm(),
            "modes": [FulfilmentMode(m).label for m in lot.fulfilment_modes if m in FulfilmentMode.values],
        },
        status=status,
    )


@require_POST
@role_required(Role.FACILITATOR)
def offer_create(request, pk, *, actor):
    lot = selectors.lot_for(actor=actor, pk=pk)
    if lot is None:
        raise Http404("Lot introuvable.")
    form = OfferForm(request.POST)
    if form.is_valid():
        kwargs = dict(form.cleaned_data)
        done = run_service(
            request,
            form,
            lambda: register.offer_create(actor=actor, lot=lot, **kwargs),
            success="Offre créée.",
            back=reverse("facilitator:lot_detail", args=[lot.pk]),
        )
        if done is not None:
            return done
    return _render_lot(request, actor, lot, offer_form=form, status=400)


@require_POST
@role_required(Role.FACILITATOR)
def offer_close(request, pk, *, actor):
    offer = selectors.offer_for(actor=actor, pk=pk)
    if offer is None:
        raise Http404("Offre introuvable.")
    try:
        register.offer_close(actor=actor, offer=offer)
    except DomainError as error:
        if error.code == "not_found":
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        messages.success(request, gettext("Offre « %(title)s » clôturée.") % {"title": offer.title})
    return redirect("facilitator:lot_detail", pk=offer.lot_id)


app_name = "facilitator"
urlpatterns = [
    path("positionnements/", referrals, name="referrals"),
    path("eligibilite/", eligibility, name="eligibility"),
    path("eligibilite/<id:pk>/", validate_eligibility, name="validate_eligibility"),
    path("heures/", hours, name="hours"),
    path("mois/", statements.facilitator_index, name="months"),
    path("mois/lot-<id:pk>/", statements.facilitator_month, name="month"),
    path("mois/lot-<id:pk>/action/", statements.facilitator_month_action, name="month_action"),
    path("registre/", register_index, name="register"),
    path("registre/operations/nouvelle/", operation_create, name="operation_create"),
    path("registre/marches/nouveau/", contract_create, name="contract_create"),
    path("registre/lots/nouveau/", lot_create, name="lot_create"),
    path("registre/lots/<id:pk>/", lot_detail, name="lot_detail"),
    path("registre/lots/<id:pk>/offres/", offer_create, name="offer_create"),
    path("registre/offres/<id:pk>/cloturer/", offer_close, name="offer_close"),
]
