"""Adviser pages (Mission Locale): participant list, intake, edit, eligibility submission, offer search and
referral, follow-ups. Views parse input, call a selector or a service, and render."""

import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext, gettext_lazy, ngettext

from parcours import selectors
from parcours.access_log import log_access, log_participant_access
from parcours.services import followups, participants, pathways, referrals
from parcours.web.common import (
    actor_required,
    apply_domain_error,
    filters_of,
    no_rows,
    paginate,
    role_required,
    run_service,
    safe_next,
)
from parcours.web.forms import (
    REQUIRED_MESSAGE,
    BootstrapFormMixin,
    DateField,
    DateInput,
    FollowUpForm,
    IntegerField,
    SearchField,
    transition_form_class,
)
from roles import policy
from roles.enums import Role
from workflows.errors import DomainError
from workflows.guards import file_closed
from workflows.states import PathwayState
from workflows.transitions import PATHWAY
from workflows.vocabulary import ExitSituation, Programme, QualificationLevel, Sex

app_name = "adviser"


# --- Participant list ----------------------------------------------------------------------------------------
class ParticipantFilterForm(forms.Form):
    q = SearchField(label=gettext_lazy("Nom, prénom ou identifiant i-milo"))
    state = forms.ChoiceField(
        label=gettext_lazy("État du parcours"),
        required=False,
        choices=[("", gettext_lazy("Tous")), *PathwayState.choices],
    )
    programme = forms.ChoiceField(
        label=gettext_lazy("Dispositif"), required=False, choices=[("", gettext_lazy("Tous")), *Programme.choices]
    )


@role_required(Role.ADVISER)
def participant_list(request, *, actor):
    form = ParticipantFilterForm(request.GET)
    filters = filters_of(form)
    if filters is None:
        page = no_rows()
    else:
        search = {"query": filters["q"], "state": filters["state"], "programme": filters["programme"]}
        rows = selectors.participant_search(actor, **search)
        page = paginate(request, rows, ids_first=True, count=selectors.participant_total(actor, **search))
    context = {"form": form, "page": page}
    template = "adviser/_participant_rows.html" if request.headers.get("HX-Request") else "adviser/participants.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Intake and edit ----------------------------------------------------------------------------------------
class ParticipantForm(BootstrapFormMixin, forms.Form):
    first_name = forms.CharField(label=gettext_lazy("Prénom"), max_length=100, error_messages=REQUIRED_MESSAGE)
    last_name = forms.CharField(label=gettext_lazy("Nom"), max_length=100, error_messages=REQUIRED_MESSAGE)
    birth_date = DateField(
        label=gettext_lazy("Date de naissance"),
        widget=DateInput(),
        error_messages=REQUIRED_MESSAGE,
    )
    postcode = forms.RegexField(
        label=gettext_lazy("Code postal"),
        regex=r"^[0-9]{5}$",
        error_messages={**REQUIRED_MESSAGE, "invalid": gettext_lazy("Code postal : 5 chiffres attendus.")},
    )
    commune = forms.CharField(label=gettext_lazy("Commune"), max_length=100, error_messages=REQUIRED_MESSAGE)
    is_qpv_resident = forms.BooleanField(
        label=gettext_lazy("Réside dans un quartier prioritaire (QPV)"), required=False
    )
    qualification_level = forms.ChoiceField(
        label=gettext_lazy("Niveau de qualification"),
        choices=[("", "—")] + list(QualificationLevel.choices),
        error_messages=REQUIRED_MESSAGE,
    )
    programme = forms.ChoiceField(label=gettext_lazy("Dispositif"), choices=Programme.choices, initial=Programme.NONE)
    sex = forms.ChoiceField(
        label=gettext_lazy("Sexe (facultatif)"),
        choices=Sex.choices,
        required=False,
        help_text=gettext_lazy(
            "Tel que déclaré par le ou la jeune ; sert uniquement aux indicateurs (part des femmes)."
        ),
    )
    email = forms.EmailField(
        label=gettext_lazy("Courriel"),
        required=False,
        error_messages={"invalid": gettext_lazy("Adresse de courriel invalide.")},
    )
    phone = forms.CharField(label=gettext_lazy("Téléphone"), required=False, max_length=20)
    imilo_reference = forms.CharField(label=gettext_lazy("Identifiant i-milo"), required=False, max_length=30)

    def to_data(self):
        return {name: self.cleaned_data[name] for name in participants.EDITABLE if name in self.cleaned_data}


class IntakeForm(ParticipantForm):
    allow_duplicate = forms.BooleanField(label=gettext_lazy("Il s'agit bien d'une autre personne"), required=False)


class ParticipantEditForm(IntakeForm):
    """The edit: the version of the data it was opened on goes back with it, so that an edit made meanwhile by
    someone else is not silently undone (participants.EditConflict)."""

    version = forms.CharField(widget=forms.HiddenInput, required=False)
    conflict = None  # the EditConflict the form came back with

    def clean_version(self):
        # A hidden field's error would show nowhere: an unreadable version is no version seen (0), a conflict.
        value = self.cleaned_data["version"].strip()
        if not value:
            return None
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else 0

    def refused(self, error) -> bool:
        """Someone changed the file since it was opened: the form comes back with what this person typed, each
        field changed meanwhile saying what is now recorded, and the current version (saving again is choosing)."""
        if not isinstance(error, participants.EditConflict):
            return False
        self.conflict = error
        typed = self.data
        self.data = self.data.copy()
        self.data["version"] = str(error.version)
        self.add_error(None, error.message)
        for name in error.fields:
            if name not in self.fields:
                continue
            # The field shows what is recorded now: saving again keeps the other's change unless retyped.
            mine = self._shown(name, self._typed(name, typed))
            current = error.current[name]
            if isinstance(self.fields[name], forms.BooleanField):
                self.data.pop(name, None)
                if current:
                    self.data[name] = "on"
            else:
                self.data[name] = current.isoformat() if isinstance(current, datetime.date) else str(current or "")
            self.add_error(
                name,
                gettext("Modifié entre-temps : la donnée enregistrée est reprise ici. Votre saisie : « %(value)s ».")
                % {"value": mine},
            )
        return True

    def _typed(self, name, data):
        field = self.fields[name]
        if isinstance(field, forms.BooleanField):
            return bool(data.get(name))
        return self.cleaned_data.get(name, data.get(name, ""))

    def _shown(self, name, value) -> str:
        field = self.fields[name]
        if isinstance(field, forms.BooleanField):
            return gettext("oui") if value else gettext("non")
        if isinstance(field, forms.ChoiceField):
            return str(dict(field.choices).get(value, value)) if value else gettext("(vide)")
        if isinstance(value, datetime.date):
            return value.strftime("%d/%m/%Y")
        return str(value) if value not in (None, "") else gettext("(vide)")


def _possible_duplicates(actor, form, **scope) -> list:
    """The files the typed identity may duplicate, as the form lists them (names, birth date, commune, i-milo): each
    one's read is logged. `scope`: find_duplicates's (the file edited left out, its Mission Locale)."""
    identity = {name: form.cleaned_data[name] for name in ("first_name", "last_name", "birth_date")}
    rows = list(participants.find_duplicates(actor=actor, **identity, **scope).select_related("referent_adviser"))
    log_access(actor=actor, participant_ids=[row.pk for row in rows])
    return rows


@actor_required
def participant_create(request, *, actor):
    if not policy.allows(actor, "participant.create"):
        raise PermissionDenied(gettext("Seul·e un·e conseiller·ère peut inscrire un·e jeune."))
    duplicates = None
    if request.method == "POST":
        form = IntakeForm(request.POST)
        if form.is_valid():
            try:
                participant = participants.participant_create(
                    actor=actor, data=form.to_data(), allow_duplicate=form.cleaned_data["allow_duplicate"]
                )
            except DomainError as error:
                if error.code == "duplicate_participant":
                    duplicates = _possible_duplicates(actor, form)
                if error.code == "forbidden":
                    raise PermissionDenied(error.message) from None
                apply_domain_error(form, error)
            else:
                messages.success(request, gettext("%(participant)s est inscrit·e.") % {"participant": participant})
                return redirect("participant_detail", participant.pk)
        status = 400
    else:
        form = IntakeForm()
        status = 200
    if duplicates is None:
        form.fields["allow_duplicate"].widget = forms.HiddenInput()
    return render(
        request,
        "adviser/participant_form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
        status=status,
    )


def _file_to_edit(request, participant):
    """(the file's address, None), or with a redirect there when the file takes no more changes (anonymised): said
    on the file, which shows what is left of it. Outside the actor's reach (None): 404."""
    if participant is None:
        raise Http404("Participant·e introuvable.")
    back = reverse("participant_detail", args=[participant.pk])
    closed = file_closed(participant)
    if closed is not None:
        messages.error(request, closed.message)
        return back, redirect(back)
    return back, None


@actor_required
def participant_update(request, pk, *, actor):
    participant = selectors.participant_for_update(actor=actor, participant_id=pk)
    back, closed = _file_to_edit(request, participant)
    if closed is not None:
        return closed
    duplicates = None
    if request.method == "POST":
        form = ParticipantEditForm(request.POST)
        if form.is_valid():
            done = run_service(
                request,
                form,
                lambda: participants.participant_update(
                    actor=actor,
                    participant=participant,
                    changes=form.to_data(),
                    allow_duplicate=form.cleaned_data["allow_duplicate"],
                    expected_version=form.cleaned_data["version"],
                ),
                success=gettext("Dossier mis à jour."),
                back=back,
            )
            if done is not None:
                return done
            if str(participants.DUPLICATE_MESSAGE) in form.non_field_errors():
                duplicates = _possible_duplicates(
                    actor, form, exclude=participant, youth_agency=participant.youth_agency
                )
        status = 409 if form.conflict else 400
    else:
        initial = {name: getattr(participant, name) for name in participants.EDITABLE}
        form = ParticipantEditForm(initial={**initial, "version": participant.version})
        status = 200
    if duplicates is None:
        form.fields["allow_duplicate"].widget = forms.HiddenInput()
    # The form shows the identity and contact (sent back with its errors too: its title names the person).
    log_participant_access(actor=actor, participant_id=participant.pk)
    return render(
        request,
        "adviser/participant_form.html",
        {"form": form, "participant": participant, "duplicates": duplicates, "creating": False, "back": back},
        status=status,
    )


# --- Eligibility submission ---------------------------------------------------------------------------------
@role_required(Role.ADVISER)
def submit_eligibility(request, pk, *, actor):
    """The criteria catalogue and the partner facilitation organisation: the declared inputs of the transition."""
    pathway = selectors.pathway_for(actor=actor, pathway_id=pk, action="pathway.submit_eligibility")
    if pathway is None:
        raise Http404("Parcours introuvable.")
    back = reverse("participant_detail", args=[pathway.participant_id])
    if pathway.state != PathwayState.INTAKE:
        messages.error(
            request,
            gettext("Le parcours est « %(state)s » : l'éligibilité a déjà été soumise.")
            % {"state": pathway.get_state_display()},
        )
        return redirect(back)
    form_class = transition_form_class(PATHWAY["submit_eligibility"])
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, obj=pathway, actor=actor)
        if form.is_valid():
            inputs = form.to_service_kwargs()
            done = run_service(
                request,
                form,
                lambda: pathways.pathway_submit_eligibility(actor=actor, pathway=pathway, **inputs),
                success=gettext("Éligibilité soumise à la structure porteuse."),
                back=back,
            )
            if done is not None:
                return done
        status = form.refusal_status()
    else:
        form = form_class(obj=pathway, actor=actor)
    log_participant_access(actor=actor, participant_id=pathway.participant_id)  # the page names the person
    return render(
        request, "adviser/submit_eligibility.html", {"form": form, "pathway": pathway, "back": back}, status=status
    )


# --- Offers and referrals -----------------------------------------------------------------------------------
class OfferFilterForm(forms.Form):
    trade = SearchField(label=gettext_lazy("Métier"))
    place = SearchField(label=gettext_lazy("Lieu"))
    qpv = forms.ChoiceField(
        label=gettext_lazy("Réservée aux résidents QPV"),
        required=False,
        choices=[("", "Indifférent"), ("yes", "Oui"), ("no", "Non")],
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Statut"),
        required=False,
        choices=[("open", gettext_lazy("Ouvertes seulement")), ("all", gettext_lazy("Toutes"))],
    )
    pathway = IntegerField(required=False, widget=forms.HiddenInput())


class ReferralForm(BootstrapFormMixin, forms.Form):
    pathway = IntegerField(widget=forms.HiddenInput())
    motivation = forms.CharField(
        label=gettext_lazy("Motivation (facultatif)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": gettext_lazy("Motivation : 2000 caractères au plus.")},
    )


def _referable_pathway(actor, pathway_id):
    """The pathway to refer, or None when the search is not made for a participant; outside scope → 404."""
    if not pathway_id:
        return None
    pathway = selectors.pathway_for(actor=actor, pathway_id=pathway_id, action="referral.create")
    if pathway is None:
        raise Http404("Parcours introuvable.")
    return pathway


@role_required(Role.ADVISER)
def offer_list(request, *, actor):
    form = OfferFilterForm(request.GET)
    filters = filters_of(form)
    pathway = _referable_pathway(actor, form.cleaned_data.get("pathway"))
    if filters is None:
        page = no_rows()
    else:
        offers = selectors.offer_search(
            actor,
            trade=filters["trade"],
            place=filters["place"],
            qpv=filters["qpv"],
            open_only=filters["status"] != "all",
        )
        page = paginate(request, offers)
    if pathway is not None:  # « Positionnement de <name> »: the page names the young person to refer
        log_participant_access(actor=actor, participant_id=pathway.participant_id)
    return render(request, "adviser/offers.html", {"form": form, "page": page, "pathway": pathway})


@role_required(Role.ADVISER)
def referral_create(request, offer_pk, *, actor):
    """GET: confirm with a motivation. POST: create the referral (positionnement)."""
    offer = selectors.offer_search(actor, open_only=False).filter(pk=offer_pk).first()
    if offer is None:
        raise Http404("Offre introuvable.")
    source = request.POST if request.method == "POST" else request.GET
    try:
        pathway_id = int(source.get("pathway", ""))
    except ValueError:
        raise Http404("Parcours introuvable.") from None
    pathway = _referable_pathway(actor, pathway_id)
    if pathway is None:
        raise Http404("Parcours introuvable.")
    back = reverse("participant_detail", args=[pathway.participant_id])
    if request.method == "POST":
        form = ReferralForm(request.POST)
        if form.is_valid():
            motivation = form.cleaned_data["motivation"]
            done = run_service(
                request,
                form,
                lambda: referrals.referral_create(actor=actor, pathway=pathway, offer=offer, motivation=motivation),
                success=gettext("Positionnement sur « %(offer)s » envoyé à la structure porteuse.")
                % {"offer": offer.title},
                back=back,
                stale_codes=(),
            )
            if done is not None:
                return done
        status = 400
    else:
        form = ReferralForm(initial={"pathway": pathway.pk})
        status = 200
    log_participant_access(actor=actor, participant_id=pathway.participant_id)  # the form names the person referred
    return render(
        request,
        "adviser/referral_form.html",
        {"form": form, "offer": offer, "pathway": pathway, "back": back},
        status=status,
    )


# --- Follow-ups ---------------------------------------------------------------------------------------------
@actor_required
def followup_record(request, pk, *, actor):
    pathway = selectors.pathway_for(actor=actor, pathway_id=pk, action="followup.record")
    if pathway is None:
        raise Http404("Parcours introuvable.")
    back = safe_next(request, reverse("participant_detail", args=[pathway.participant_id]))
    planned = selectors.planned_follow_ups(pathway=pathway)
    if request.method == "POST":
        form = FollowUpForm(request.POST, planned=planned)
        if form.is_valid():
            inputs = form.to_service_kwargs()
            done = run_service(
                request,
                form,
                lambda: followups.followup_record(actor=actor, pathway=pathway, **inputs),
                success=gettext("Suivi enregistré."),
                back=back,
            )
            if done is not None:
                return done
        status = 400
    else:
        form = FollowUpForm(planned=planned, initial={"planned_follow_up": request.GET.get("planned")})
        status = 200
    log_participant_access(actor=actor, participant_id=pathway.participant_id)  # the form names the person
    return render(
        request, "adviser/followup_form.html", {"form": form, "pathway": pathway, "back": back}, status=status
    )


class ExitOutcomeForm(BootstrapFormMixin, forms.Form):
    observed_on = DateField(label=gettext_lazy("Situation constatée le"), widget=DateInput())
    situation = forms.ChoiceField(label=gettext_lazy("Situation à 6 mois"), choices=ExitSituation.choices)
    detail = forms.CharField(
        label=gettext_lazy("Précision (contrat, employeur, formation…)"), max_length=200, required=False
    )


@role_required(Role.ADVISER)
def exit_outcome(request, pk, *, actor):
    """The situation six months after an exit (the outcome the Mission Locale and the ESF report)."""
    exit = selectors.exit_for(actor=actor, pk=pk)
    if exit is None:
        raise Http404("Sortie introuvable.")
    back = reverse("participant_detail", args=[exit.pathway.participant_id])
    closed = file_closed(exit.pathway.participant)
    if closed is not None:  # as the edit page: nothing to record, said on the file
        messages.error(request, closed.message)
        return redirect(back)
    if request.method == "POST":
        form = ExitOutcomeForm(request.POST)
        if form.is_valid():
            done = run_service(
                request,
                form,
                lambda: pathways.exit_record_outcome(actor=actor, exit=exit, **form.cleaned_data),
                success=gettext("Situation à 6 mois enregistrée."),
                back=back,
                stale_codes=(),
            )
            if done is not None:
                return done
        status = 400
    else:
        initial = {"observed_on": timezone.localdate()}
        if exit.outcome_observed_on:
            initial = {
                "observed_on": exit.outcome_observed_on,
                "situation": exit.outcome_situation,
                "detail": exit.outcome_detail,
            }
        form = ExitOutcomeForm(initial=initial)
        status = 200
    log_participant_access(actor=actor, participant_id=exit.pathway.participant_id)  # the page names the person
    return render(request, "adviser/exit_outcome.html", {"form": form, "exit": exit, "back": back}, status=status)


# --- The referent adviser -----------------------------------------------------------------------------------------
def _person(user) -> str:
    return user.get_full_name() or user.get_username()


class ReferentForm(BootstrapFormMixin, forms.Form):
    """The file's new referent, among the Mission Locale's active advisers (the service checks it again)."""

    adviser = forms.ChoiceField(
        label=gettext_lazy("Nouveau ou nouvelle référent·e"),
        error_messages={
            **REQUIRED_MESSAGE,
            "invalid_choice": gettext_lazy("Choisissez un·e conseiller·ère de la liste."),
        },
    )

    def __init__(self, *args, candidates, current_id, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")]
        for user in candidates:
            label = _person(user)
            if user.pk == current_id:
                label = gettext("%(name)s (référent·e actuel·le)") % {"name": label}
            choices.append((str(user.pk), label))
        self.fields["adviser"].choices = choices


@actor_required
def participant_referent(request, pk, *, actor):
    """« Changer de référent·e »: one of the file's Mission Locale's active advisers becomes its referent."""
    participant = selectors.participant_for_referent_change(actor=actor, participant_id=pk)
    back, closed = _file_to_edit(request, participant)
    if closed is not None:
        return closed
    candidates = list(selectors.referent_candidates(participant.youth_agency_id))
    options = {"candidates": candidates, "current_id": participant.referent_adviser_id}
    if request.method == "POST":
        form = ReferentForm(request.POST, **options)
        if form.is_valid():
            adviser_id = int(form.cleaned_data["adviser"])
            chosen = next(user for user in candidates if user.pk == adviser_id)
            if adviser_id == participant.referent_adviser_id:
                success = gettext("Aucun changement : %(name)s est déjà référent·e de ce dossier.")
            else:
                success = gettext("%(name)s est désormais référent·e de ce dossier.")
            done = run_service(
                request,
                form,
                lambda: participants.participant_change_referent(
                    actor=actor, participant=participant, adviser=adviser_id
                ),
                success=success % {"name": _person(chosen)},
                back=back,
            )
            if done is not None:
                return done
        status = 400
    else:
        form = ReferentForm(initial={"adviser": str(participant.referent_adviser_id)}, **options)
        status = 200
    log_participant_access(actor=actor, participant_id=participant.pk)  # the page names the person
    return render(
        request,
        "adviser/referent_form.html",
        {"form": form, "participant": participant, "back": back},
        status=status,
    )


class HandOverForm(BootstrapFormMixin, forms.Form):
    """A colleague's open files handed over to another adviser; the first valid post asks for a confirmation."""

    from_adviser = forms.ChoiceField(
        label=gettext_lazy("Dossiers de"),
        error_messages={
            **REQUIRED_MESSAGE,
            "invalid_choice": gettext_lazy("Choisissez une personne de la liste."),
        },
    )
    to_adviser = forms.ChoiceField(
        label=gettext_lazy("Transmettre à"),
        error_messages={
            **REQUIRED_MESSAGE,
            "invalid_choice": gettext_lazy("Choisissez un·e conseiller·ère de la liste."),
        },
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, sources, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.sources = {user.pk: user for user in sources}
        self.candidates = {user.pk: user for user in candidates}
        self.fields["from_adviser"].choices = [("", "—")] + [
            (str(user.pk), self._source_label(user)) for user in sources
        ]
        self.fields["to_adviser"].choices = [("", "—")] + [(str(user.pk), _person(user)) for user in candidates]

    @staticmethod
    def _source_label(user) -> str:
        files = ngettext("%(n)s dossier ouvert", "%(n)s dossiers ouverts", user.open_files) % {"n": user.open_files}
        if not user.is_member:
            return gettext("%(name)s — ne fait plus partie de l'équipe, %(files)s") % {
                "name": _person(user),
                "files": files,
            }
        return f"{_person(user)} — {files}"

    def clean(self):
        cleaned = super().clean()
        source, target = cleaned.get("from_adviser"), cleaned.get("to_adviser")
        if source and target and source == target:
            self.add_error(
                "to_adviser", gettext("Choisissez une autre personne que celle dont les dossiers sont à transmettre.")
            )
        return cleaned


def _handed_over(moved, source, target) -> str:
    names = {"n": moved, "source": _person(source), "target": _person(target)}
    if not moved:  # taken over meanwhile, file by file or by a colleague's hand-over
        return gettext("Aucun dossier ouvert de %(source)s n'était encore à transmettre.") % names
    return (
        ngettext(
            "%(n)s dossier de %(source)s est transmis à %(target)s.",
            "%(n)s dossiers de %(source)s sont transmis à %(target)s.",
            moved,
        )
        % names
    )


@role_required(Role.ADVISER)
def hand_over(request, *, actor):
    """« Transmettre les dossiers d'un·e collègue »: every open file a member or former member of the Mission Locale
    is the referent of goes to one adviser (someone left or changes post). Choose, confirm, done."""
    if not policy.may(actor, "participant.change_referent"):
        raise PermissionDenied(gettext("Cette page est réservée à un autre rôle."))
    sources = list(selectors.hand_over_sources(actor))
    candidates = list(selectors.referent_candidates(actor.organisation_id))
    options = {"sources": sources, "candidates": candidates}
    back = reverse("adviser:participants")
    summary = None
    status = 200
    if request.method == "POST":
        form = HandOverForm(request.POST, **options)
        if form.is_valid():
            source = form.sources[int(form.cleaned_data["from_adviser"])]
            target = form.candidates[int(form.cleaned_data["to_adviser"])]
            if form.cleaned_data["confirmed"]:
                done = run_service(
                    request,
                    form,
                    lambda: participants.participant_hand_over(
                        actor=actor, from_adviser=source.pk, to_adviser=target.pk
                    ),
                    success=lambda moved: _handed_over(moved, source, target),
                    back=back,
                    stale_codes=(),
                )
                if done is not None:
                    return done
                status = 400
            else:
                # The choice, confirmed as it is: sent again with it, not to be changed on the way.
                summary = {"source": _person(source), "target": _person(target), "files": source.open_files}
                data = request.POST.copy()
                data["confirmed"] = "on"
                form = HandOverForm(data, **options)
                form.is_valid()
                for name in ("from_adviser", "to_adviser", "confirmed"):
                    form.fields[name].widget = forms.HiddenInput()
        else:
            status = 400
    else:
        form = HandOverForm(**options)
    return render(
        request,
        "adviser/hand_over.html",
        {"form": form, "summary": summary, "back": back, "has_sources": bool(sources)},
        status=status,
    )


urlpatterns = [
    path("sorties/<id:pk>/situation-a-6-mois/", exit_outcome, name="exit_outcome"),
    path("jeunes/", participant_list, name="participants"),
    path("jeunes/inscrire/", participant_create, name="participant_create"),
    path("jeunes/<id:pk>/modifier/", participant_update, name="participant_update"),
    path("jeunes/<id:pk>/referent/", participant_referent, name="participant_referent"),
    path("jeunes/transmettre/", hand_over, name="hand_over"),
    path("parcours/<id:pk>/eligibilite/", submit_eligibility, name="submit_eligibility"),
    path("parcours/<id:pk>/suivi/", followup_record, name="followup_record"),
    path("offres/", offer_list, name="offers"),
    path("offres/<id:offer_pk>/positionner/", referral_create, name="referral_create"),
]
