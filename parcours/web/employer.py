"""Employer pages: candidates forwarded to me, my placements (start, end, monthly hours), my offers.
Only what hiring needs is shown: never birth date, address, eligibility criteria or social data."""

from django import forms
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from parcours import selectors
from parcours.access_log import log_participant_access
from parcours.counting import hours_text
from parcours.dates import month_label, previous_month
from parcours.services import placements as placement_services
from parcours.web import statements
from parcours.web.common import paginate, role_required, row_actions, run_service, state_choices, states_from_request
from parcours.web.forms import BootstrapFormMixin, FrenchDecimalField
from roles.enums import Role
from workflows.states import PlacementState


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m", **kwargs)


class MonthField(forms.DateField):
    """A month, typed as YYYY-MM (month input) or as a full date; cleaned to its first day."""

    default_error_messages = {"invalid": gettext_lazy("Mois invalide (format attendu : aaaa-mm).")}
    widget = MonthInput
    input_formats = ["%Y-%m", "%Y-%m-%d", "%m/%Y", "%d/%m/%Y"]

    def to_python(self, value):
        day = super().to_python(value)
        return day.replace(day=1) if day else day


class HoursForm(BootstrapFormMixin, forms.Form):
    month = MonthField(label=gettext_lazy("Mois (AAAA-MM)"))
    hours = FrenchDecimalField(label=gettext_lazy("Heures d'insertion réalisées"), max_digits=6, decimal_places=2)
    is_adjustment = forms.BooleanField(
        label=gettext_lazy("Ligne de régularisation d'un mois clôturé (peut être négative)"), required=False
    )


@role_required(Role.EMPLOYER)
def candidates(request, *, actor):
    visible = selectors.CANDIDATE_STATES_FOR_EMPLOYER
    states = states_from_request(request, "referral", selectors.CANDIDATES_WAITING_FOR_EMPLOYER, visible)
    page = paginate(request, selectors.candidates_for(actor=actor, states=states), ids_first=True)
    row_actions(page.object_list, actor, "referral.view")
    return render(
        request,
        "employer/candidates.html",
        {"page": page, "states": state_choices("referral", states, visible), "all_states": not states},
    )


@role_required(Role.EMPLOYER)
def placements(request, *, actor):
    page = paginate(request, selectors.employer_placements(actor), ids_first=True)
    row_actions(page.object_list, actor, "placement.view")
    return render(
        request,
        "employer/placements.html",
        {"page": page, "declarable": [PlacementState.ACTIVE, PlacementState.ENDED]},
    )


@role_required(Role.EMPLOYER)
def declare_hours(request, pk, *, actor):
    placement = selectors.employer_placement(actor=actor, pk=pk)
    if placement is None:
        raise Http404("Mise en poste introuvable.")
    back = reverse("employer:placements")
    status = 200
    if request.method == "POST":
        form = HoursForm(request.POST)
        if form.is_valid():
            done = run_service(
                request,
                form,
                lambda: placement_services.hours_declare(actor=actor, placement=placement, **form.cleaned_data),
                success=lambda line: (
                    gettext("Heures déclarées : %(hours)s pour %(month)s.")
                    % {"hours": hours_text(line.hours), "month": month_label(line.month)}
                ),
                back=back,
            )
            if done is not None:
                return done
        status = 400
    else:
        # Hours are declared for the month that ended.
        form = HoursForm(initial={"month": previous_month(timezone.localdate())})
    log_participant_access(actor=actor, participant_id=placement.pathway.participant_id)  # it names the employee
    return render(
        request,
        "employer/declare_hours.html",
        {"placement": placement, "form": form, "lines": placement.hours_lines.order_by("month", "pk")},
        status=status,
    )


@role_required(Role.EMPLOYER)
def offers(request, *, actor):
    return render(request, "employer/offers.html", {"page": paginate(request, selectors.employer_offers(actor))})


app_name = "employer"
urlpatterns = [
    path("candidatures/", candidates, name="candidates"),
    path("salaries/", placements, name="placements"),
    path("salaries/<id:pk>/heures/", declare_hours, name="declare_hours"),
    path("offres/", offers, name="offers"),
    path("releves/", statements.employer_index, name="statements"),
    path("releves/lot-<id:pk>/", statements.employer_statement, name="statement"),
    path("releves/lot-<id:pk>/modele.csv", statements.employer_statement_template, name="statement_template"),
]
