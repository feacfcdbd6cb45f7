"""Django admin of Parcours.

Only the reference data (eligibility criteria) is edited here. Everything else is shown read-only: every write
has its service in parcours.services (policy check, guards, journal event, grants), the states are protected fsm
fields, and nothing journaled may be deleted — so no add, change or delete, hence no bulk delete either.
Opening a participant's file here is logged like any other read (ParticipantAccess, channel "admin").
The admins of organisations, memberships and users (roles', Django's) are extended at the end: a change that takes a
person out of a team, or switches an account off, calls parcours.services.accounts.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from viewflow.workflow import admin as viewflow_admin  # noqa: F401  its registrations first: one is replaced below
from viewflow.workflow.models import Process, Task

from parcours.access_log import log_access, log_participant_access
from parcours.models import (
    ContractLot,
    CountingModeRule,
    CountingRuleSet,
    EligibilityCriterion,
    Exit,
    FollowUp,
    HoursLine,
    JobOffer,
    MailNotification,
    Operation,
    Participant,
    ParticipantAccess,
    Pathway,
    Placement,
    PublicContract,
    Referral,
    WorkerHeartbeat,
)
from parcours.selectors import journal as timeline
from parcours.services import accounts
from parcours.text import plain_id
from roles import admin as roles_admin  # its registrations first: the memberships' are replaced below
from roles.actor import Actor
from roles.models import Membership, Organisation
from workflows import admin as workflows_admin  # its registrations first: the journal's is replaced below
from workflows.models import JournalEvent
from workflows.states import HoursLineState
from workflows.transitions import MACHINES
from workflows.vocabulary import AccessChannel


class ReadOnlyMixin:
    """View only: no add, change or delete (Django then drops the bulk delete action too)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_per_page = 50


class ReadOnlyTabularInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class LogsParticipantAccessMixin:
    """Log the opening of a page that shows a participant's file (who consulted what, channel "admin"): an object's
    page and its history (the history names the object, « Dossier de … »), and the list's rows (`logs_list`)."""

    logs_list = True

    def participant_id_of(self, obj):
        return obj.journal_participant_id

    def changelist_view(self, request, extra_context=None):
        """A list shows names (with agencies, states, offers…): a read of each file on the page (purpose "list"), as
        an API list logs it. The rows' relations are the list's `list_select_related`: no query per row."""
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if self.logs_list and request.method == "GET" and changelist is not None:
            actor = getattr(request, "actor", None) or Actor(user=request.user, organisation=None, role=None)
            shown = [self.participant_id_of(row) for row in changelist.result_list]  # the page's rows, kept
            log_access(
                actor=actor, participant_ids=[pk for pk in shown if pk], channel=AccessChannel.ADMIN, purpose="list"
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self._log_object_read(request, object_id, response)
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        self._log_object_read(request, object_id, response)
        return response

    def _log_object_read(self, request, object_id, response):
        if request.method != "GET" or response.status_code != 200:
            return
        obj = self.get_object(request, unquote(object_id))
        participant_id = self.participant_id_of(obj) if obj is not None else None
        if participant_id:
            actor = getattr(request, "actor", None) or Actor(user=request.user, organisation=None, role=None)
            log_participant_access(actor=actor, participant_id=participant_id, channel=AccessChannel.ADMIN)


# --- Reference data ------------------------------------------------------------------------------------------
@admin.register(EligibilityCriterion)
class EligibilityCriterionAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "max_age", "is_health_data", "is_active", "position"]
    list_display_links = ["code", "label"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active", "is_health_data"]
    search_fields = ["code", "label", "description"]
    ordering = ["position", "code"]

    def get_readonly_fields(self, request, obj=None):
        # The code is what assessments and journal events refer to: it never changes once created.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Assessments keep their criteria (PROTECT): a criterion that is no longer used is deactivated.
        return False


# A version of the counting rules used by a lot is never changed: every figure names the version that produced it.
# It is read-only here once a lot uses it; « Publier une nouvelle version » copies it (its mode rules too) as the
# next version, valid from today, to edit before a lot chooses it.
def _in_use(rule_set) -> bool:
    return rule_set is not None and rule_set.pk is not None and rule_set.lots.exists()


class CountingModeRuleInline(admin.TabularInline):
    model = CountingModeRule
    extra = 0
    fields = ["mode", "counts", "factor", "cap_hours_per_placement"]

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not _in_use(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _in_use(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _in_use(obj)


@admin.register(CountingRuleSet)
class CountingRuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "valid_from", "facilitation_organisation", "lots_using"]
    list_filter = ["facilitation_organisation"]
    search_fields = ["name"]
    inlines = [CountingModeRuleInline]
    actions = ["publish_new_version"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("facilitation_organisation").annotate(using=Count("lots"))

    @admin.display(description="lots qui l'appliquent", ordering="using")
    def lots_using(self, obj):
        return obj.using

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _in_use(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _in_use(obj)

    @admin.action(description="Publier une nouvelle version (copie modifiable, en vigueur à partir d'aujourd'hui)")
    def publish_new_version(self, request, queryset):
        published = []
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True))  # the list's rows are counted (GROUP BY): not locked
            for rule_set in CountingRuleSet.objects.filter(pk__in=ids).order_by("pk").select_for_update():
                latest = CountingRuleSet.objects.filter(name=rule_set.name).aggregate(v=Max("version"))["v"]
                rules = list(rule_set.mode_rules.all())
                rule_set.pk, rule_set.version, rule_set.valid_from = None, latest + 1, timezone.localdate()
                rule_set.save()
                for rule in rules:
                    rule.pk, rule.rule_set = None, rule_set
                    rule.save()
                published.append(str(rule_set))
        self.message_user(
            request, "Publiée(s) : " + ", ".join(published) + ". Modifiez-la avant qu'un lot la choisisse."
        )


# --- Clause register -----------------------------------------------------------------------------------------
class PublicContractInline(ReadOnlyTabularInline):
    model = PublicContract
    fields = ["reference", "title", "buyer", "legal_lever", "notified_on"]


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ["name", "commune", "is_anru", "facilitation_organisation", "starts_on", "ends_on"]
    list_filter = ["is_anru", "facilitation_organisation"]
    search_fields = ["name", "commune"]
    list_select_related = ["facilitation_organisation"]
    inlines = [PublicContractInline]


class ContractLotInline(ReadOnlyTabularInline):
    model = ContractLot
    fields = ["number", "title", "trade", "target_hours", "execution_starts_on", "execution_ends_on", "awardee"]


@admin.register(PublicContract)
class PublicContractAdmin(ReadOnlyAdmin):
    list_display = ["reference", "title", "operation", "buyer", "legal_lever", "notified_on"]
    list_filter = ["legal_lever", "buyer", "operation"]
    search_fields = ["reference", "title", "operation__name"]
    list_select_related = ["operation", "buyer"]
    inlines = [ContractLotInline]


class JobOfferInline(ReadOnlyTabularInline):
    model = JobOffer
    fields = ["title", "contract_type", "weekly_hours", "positions", "is_qpv_mandatory", "is_open", "closed_at"]


@admin.register(ContractLot)
class ContractLotAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "contract",
        "trade",
        "awardee",
        "target_hours",
        "hours_done",
        "execution_starts_on",
        "execution_ends_on",
    ]
    list_filter = ["awardee", "sizing_method", "contract__operation", "contract"]
    search_fields = ["title", "trade", "contract__reference", "contract__title"]
    list_select_related = ["contract", "awardee"]
    inlines = [JobOfferInline]

    def get_queryset(self, request):
        done = Q(placements__hours_lines__state__in=[HoursLineState.VALIDATED, HoursLineState.LOCKED])
        return (
            super().get_queryset(request).annotate(hours_done_total=Sum("placements__hours_lines__hours", filter=done))
        )

    @admin.display(description="heures validées", ordering="hours_done_total")
    def hours_done(self, obj):
        return obj.hours_done_total or 0


@admin.register(JobOffer)
class JobOfferAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "lot",
        "contract_type",
        "weekly_hours",
        "positions",
        "is_qpv_mandatory",
        "is_open",
        "created_at",
    ]
    list_filter = ["is_open", "is_qpv_mandatory", "contract_type", "lot__awardee", "lot"]
    search_fields = ["title", "trade", "rome_code", "location"]
    list_select_related = ["lot", "lot__contract"]
    date_hierarchy = "created_at"


# --- Participants --------------------------------------------------------------------------------------------
class PathwayInline(ReadOnlyTabularInline):
    model = Pathway
    fields = ["state", "started_on", "referent_adviser", "facilitation_organisation", "exited_on", "closed_on"]


@admin.register(Participant)
class ParticipantAdmin(LogsParticipantAccessMixin, ReadOnlyAdmin):
    list_display = [
        "last_name",
        "first_name",
        "commune",
        "youth_agency",
        "referent_adviser",
        "pathway_state",
        "programme",
        "is_qpv_resident",
        "created_at",
    ]
    list_display_links = ["last_name", "first_name"]
    list_filter = ["youth_agency", "current_state", "programme", "qualification_level", "is_qpv_resident"]
    search_fields = ["last_name", "first_name", "imilo_reference", "commune", "postcode"]
    list_select_related = ["youth_agency", "referent_adviser"]
    date_hierarchy = "created_at"
    inlines = [PathwayInline]

    def participant_id_of(self, obj):
        return obj.pk

    @admin.display(description="état du parcours", ordering="current_state")
    def pathway_state(self, obj):
        return obj.get_current_state_display() or "—"


# --- Pathways and their steps (read-only: states are protected fsm fields, writes go through services) --------
class ReferralInline(ReadOnlyTabularInline):
    model = Referral
    fields = ["offer", "state", "created_at", "forwarded_at", "decided_at", "decision_reason"]


class PlacementInline(ReadOnlyTabularInline):
    model = Placement
    fields = ["employer", "lot", "fulfilment_mode", "contract_type", "state", "start_date", "started_on", "ended_on"]


class FollowUpInline(ReadOnlyTabularInline):
    model = FollowUp
    fields = ["kind", "placement", "due_on", "done_on", "recorded_by"]
    show_change_link = False


class ExitInline(ReadOnlyTabularInline):
    model = Exit
    fields = ["exited_on", "category", "detail", "recorded_by"]
    show_change_link = False


@admin.register(Pathway)
class PathwayAdmin(LogsParticipantAccessMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "participant",
        "state",
        "started_on",
        "referent_adviser",
        "facilitation_organisation",
        "exited_on",
        "closed_on",
    ]
    list_display_links = ["id", "participant"]
    list_filter = ["state", "facilitation_organisation", "participant__youth_agency"]
    search_fields = ["=id", "participant__last_name", "participant__first_name", "participant__imilo_reference"]
    list_select_related = ["participant", "referent_adviser", "facilitation_organisation"]
    date_hierarchy = "started_on"
    inlines = [ReferralInline, PlacementInline, FollowUpInline, ExitInline]


@admin.register(Referral)
class ReferralAdmin(LogsParticipantAccessMixin, ReadOnlyAdmin):
    list_display = ["id", "participant_name", "offer", "state", "created_at", "forwarded_at", "decided_at"]
    list_display_links = ["id", "participant_name"]
    list_filter = ["state", "offer__lot", "offer"]
    search_fields = ["=id", "pathway__participant__last_name", "pathway__participant__first_name", "offer__title"]
    list_select_related = ["pathway__participant", "offer"]
    date_hierarchy = "created_at"

    @admin.display(description="participant·e", ordering="pathway__participant__last_name")
    def participant_name(self, obj):
        return obj.pathway.participant


class HoursLineInline(ReadOnlyTabularInline):
    model = HoursLine
    fields = ["month", "hours", "is_adjustment", "state", "declared_at", "validated_at", "locked_at"]


@admin.register(Placement)
class PlacementAdmin(LogsParticipantAccessMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "participant_name",
        "employer",
        "lot",
        "fulfilment_mode",
        "contract_type",
        "state",
        "start_date",
        "started_on",
        "ended_on",
        "end_kind",
    ]
    list_display_links = ["id", "participant_name"]
    list_filter = ["state", "employer", "lot", "fulfilment_mode", "contract_type", "end_kind"]
    search_fields = ["=id", "pathway__participant__last_name", "pathway__participant__first_name"]
    list_select_related = ["pathway__participant", "employer", "lot"]
    date_hierarchy = "start_date"
    inlines = [HoursLineInline]

    @admin.display(description="participant·e", ordering="pathway__participant__last_name")
    def participant_name(self, obj):
        return obj.pathway.participant


@admin.register(HoursLine)
class HoursLineAdmin(LogsParticipantAccessMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "placement",
        "participant_name",
        "month",
        "hours",
        "is_adjustment",
        "state",
        "declared_at",
        "validated_at",
        "locked_at",
    ]
    list_filter = ["state", "is_adjustment", "lot", "placement__employer"]
    search_fields = ["=id", "=placement__id", "placement__pathway__participant__last_name"]
    list_select_related = ["placement", "placement__pathway__participant"]
    date_hierarchy = "month"

    @admin.display(description="participant·e", ordering="placement__pathway__participant__last_name")
    def participant_name(self, obj):
        return obj.placement.pathway.participant


@admin.register(ParticipantAccess)
class ParticipantAccessAdmin(ReadOnlyAdmin):
    list_display = ["accessed_at", "user", "organisation", "role", "participant_id", "channel", "purpose"]
    list_filter = ["channel", "role", "purpose", "organisation"]
    search_fields = ["=participant__id", "user__username"]
    search_help_text = "Identifiant du ou de la participant·e (nombre exact) ou nom d'utilisateur."
    list_select_related = ["user", "organisation"]
    date_hierarchy = "accessed_at"
    show_full_result_count = False
    list_per_page = 100


# --- Operations: the e-mail outbox and the timer workers' heartbeats (docs/deploy.md) -----------------------------
@admin.register(MailNotification)
class MailNotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "kind", "delivery", "sent_at", "outcome", "attempts"]
    list_filter = ["kind", "delivery", "outcome"]
    search_fields = ["user__username", "=referral__id"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["name", "started_at", "beat_at", "sweeps"]


# --- Work layer: viewflow's processes and tasks ------------------------------------------------------------------
# viewflow's own admins could change or delete them (a process's deletion cascading to its tasks), outside every
# service, and listed them by creation date with a status filter: those tables keep no index on either (migration
# 0030, docs/work-layer.md), so each list sorted the whole table. Here: read-only, newest first by id, found by id,
# sorted by id only.
admin.site.unregister(Process)
admin.site.unregister(Task)


class _NewestFirst(ChangeList):
    """Newest first by id, whatever the address asks: a sort on another column sorts the whole table."""

    def get_ordering(self, request, queryset):
        return ["-pk"]

    def get_ordering_field_columns(self):
        return {}


class FoundByNumberMixin:
    """A list read by id: newest first, and a search for an exact id among `number_lookups` (an index answers each;
    any other text finds nothing: the ORM's `=id` search compares the ids as text, which no index answers)."""

    number_lookups = ()
    sortable_by = ()

    def get_changelist(self, request, **kwargs):
        return _NewestFirst

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = plain_id(term)
        if number is None:
            return queryset.none(), False
        found = Q()
        for lookup in self.number_lookups:
            found |= Q(**{lookup: number})
        return queryset.filter(found), False


@admin.register(Process)
class ProcessAdmin(FoundByNumberMixin, ReadOnlyAdmin):
    list_display = ["pk", "flow_class", "status", "created", "finished"]
    search_fields = ["id"]  # the search box; get_search_results reads the number
    number_lookups = ["pk"]
    search_help_text = "Identifiant du processus (nombre exact)."
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(FoundByNumberMixin, ReadOnlyAdmin):
    list_display = ["pk", "flow_task", "status", "process", "owner", "created", "finished"]
    list_select_related = ["owner", "process"]
    search_fields = ["id"]  # the search box; get_search_results reads the number
    number_lookups = ["pk", "process_id"]
    search_help_text = "Identifiant de la tâche ou de son processus (nombre exact)."
    show_full_result_count = False


# --- The journal, in the words of the timeline ---------------------------------------------------------------------
# workflows' admin shows the stored codes (the engine knows no case model, nor its words); here each code is shown
# with the label the timeline gives it (parcours.selectors.journal). Only the display: the stored codes are sealed.
admin.site.unregister(JournalEvent)


def _journal_field(name):
    return JournalEvent._meta.get_field(name).verbose_name


class _LabelledCodeFilter(admin.SimpleListFilter):
    """A filter on a code column listing the known codes by their labels (no DISTINCT over the whole journal)."""

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.parameter_name: value}) if value else queryset


class ObjectTypeFilter(_LabelledCodeFilter):
    title = _journal_field("object_type")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        return sorted(((code, str(label)) for code, label in timeline.OBJECT_LABELS.items()), key=lambda row: row[1])


class ActionFilter(_LabelledCodeFilter):
    title = _journal_field("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        labels = {}  # one action code may mean different things on different objects ("cancel", "expire")
        for table in MACHINES.values():
            for code, spec in table.items():
                labels.setdefault(code, set()).add(str(spec.label))
        for code, label in timeline.ACTION_LABELS.items():
            labels.setdefault(code, set()).add(str(label))
        rows = ((code, " / ".join(sorted(names))) for code, names in labels.items())
        return sorted(rows, key=lambda row: row[1])


class ActorRoleFilter(_LabelledCodeFilter):
    title = _journal_field("actor_role")
    parameter_name = "actor_role"

    def lookups(self, request, model_admin):
        return [(code, str(label)) for code, label in timeline.ROLE_LABELS.items()]


@admin.register(JournalEvent)
class JournalEventAdmin(LogsParticipantAccessMixin, workflows_admin.JournalEventAdmin):
    # An event's page shows its free-text reason beside the participant it concerns: a read of that file. Its list
    # shows codes and numbers, no one's data: not logged.
    logs_list = False

    def participant_id_of(self, obj):
        return obj.participant_id

    list_display = [
        "occurred_at",
        "object_label",
        "object_id",
        "sequence",
        "action_label",
        "from_label",
        "to_label",
        "actor_user",
        "actor_organisation",
        "role_label",
        "participant_id",
    ]
    list_display_links = ["occurred_at", "object_label"]
    list_filter = [ObjectTypeFilter, ActionFilter, ActorRoleFilter, "actor_organisation"]
    fields = [
        "occurred_at",
        "actor_user",
        "actor_organisation",
        "role_label",
        "object_label",
        "object_id",
        "participant_id",
        "action_label",
        "from_label",
        "to_label",
        "reason_text",
        "reason_digest",
        "inputs",
        "sequence",
        "previous_hash",
        "key_id",
        "hash",
    ]
    readonly_fields = ["role_label", "object_label", "action_label", "from_label", "to_label", "reason_text"]

    @admin.display(description=_journal_field("object_type"), ordering="object_type")
    def object_label(self, event):
        return str(timeline.OBJECT_LABELS.get(event.object_type, event.object_type))

    @admin.display(description=_journal_field("action"), ordering="action")
    def action_label(self, event):
        return timeline.action_label(event.object_type, event.action)

    @admin.display(description=_journal_field("from_state"), ordering="from_state")
    def from_label(self, event):
        return timeline.event_state_label(event.object_type, event.from_state)

    @admin.display(description=_journal_field("to_state"), ordering="to_state")
    def to_label(self, event):
        return timeline.event_state_label(event.object_type, event.to_state)

    @admin.display(description=_journal_field("actor_role"), ordering="actor_role")
    def role_label(self, event):
        return str(timeline.ROLE_LABELS.get(event.actor_role, event.actor_role))

    @admin.display(description="motif")
    def reason_text(self, event):
        return "(effacé avec les données du ou de la participant·e)" if event.reason_erased else event.reason


# --- Memberships and accounts: what a leaver keeps ---------------------------------------------------------------
# A person whose membership moves to another organisation or role, is switched off or deleted, or whose account is
# switched off, gives their open tasks of that team back to its queue, and an account switched off loses its sessions
# and API token (parcours.services.accounts; docs/work-layer.md, docs/security.md). roles may not call the case
# app's services: its admins are extended here, each save path calling the service after its own writes, in the
# admin's transaction.
def _admin_actor(request) -> Actor:
    return getattr(request, "actor", None) or Actor(user=request.user, organisation=None, role=None)


admin.site.unregister(Organisation)
admin.site.unregister(Membership)


@admin.register(Organisation)
class OrganisationAdmin(roles_admin.OrganisationAdmin):
    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        journaled = accounts.membership_states(organisation=form.instance.pk) if form.instance.pk else {}
        super().save_formset(request, form, formset, change)
        # The members before (a row changed or deleted: its user as the page showed it) and after the change.
        before = [row.initial.get("user") for row in formset.initial_forms]
        after = [row.instance.user_id for row in formset.forms]
        actor = _admin_actor(request)
        accounts.record_membership_changes(
            actor=actor, before=journaled, after=accounts.membership_states(organisation=form.instance.pk)
        )
        accounts.access_changed(actor=actor, users=[*before, *after])


@admin.register(Membership)
class MembershipAdmin(roles_admin.MembershipAdmin):
    def save_model(self, request, obj, form, change):
        before = Membership.objects.filter(pk=obj.pk).values_list("user_id", flat=True).first() if change else None
        journaled = accounts.membership_states(pk=obj.pk) if change else {}
        super().save_model(request, obj, form, change)
        actor = _admin_actor(request)
        accounts.record_membership_changes(actor=actor, before=journaled, after=accounts.membership_states(pk=obj.pk))
        accounts.access_changed(actor=actor, users=[before, obj.user_id])

    def delete_model(self, request, obj):
        journaled = accounts.membership_states(pk=obj.pk)
        super().delete_model(request, obj)
        actor = _admin_actor(request)
        accounts.record_membership_changes(actor=actor, before=journaled, after={})
        accounts.access_changed(actor=actor, users=[obj.user_id])

    def delete_queryset(self, request, queryset):
        users = list(queryset.values_list("user_id", flat=True))
        journaled = accounts.membership_states(pk__in=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)
        actor = _admin_actor(request)
        accounts.record_membership_changes(actor=actor, before=journaled, after={})
        accounts.access_changed(actor=actor, users=users)


User = get_user_model()
admin.site.unregister(User)


class _UniqueEmail:
    """Two accounts with one address would both receive the other's password reset: an address is one person's."""

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data.get("email") or "").strip()
        if email and User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Cette adresse de courriel est déjà celle d'un autre compte.")
        return email


class UserChangeForm(_UniqueEmail, auth_forms.UserChangeForm):
    pass


class UserCreationForm(_UniqueEmail, auth_forms.AdminUserCreationForm):
    class Meta(auth_forms.AdminUserCreationForm.Meta):
        fields = ("username", "email")


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    actions = ["deactivate"]
    form = UserChangeForm
    add_form = UserCreationForm
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "usable_password", "password1", "password2")}),
    )

    def save_model(self, request, obj, form, change):
        # The account as it was (its permissions and groups are saved after it, by save_related): journaled there.
        request._journaled_account = accounts.account_state(User.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        if change:  # « Actif » unticked: signed out, token revoked, tasks back in their queues
            accounts.access_changed(actor=_admin_actor(request), users=[obj])

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        accounts.record_account_change(
            actor=_admin_actor(request),
            user_id=obj.pk,
            before=getattr(request, "_journaled_account", None),
            after=accounts.account_state(obj),
        )

    def delete_model(self, request, obj):
        actor = _admin_actor(request)
        accounts.account_before_delete(actor=actor, users=[obj])
        accounts.record_account_change(actor=actor, user_id=obj.pk, before=accounts.account_state(obj), after=None)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        actor = _admin_actor(request)
        users = list(queryset.order_by("pk"))
        accounts.account_before_delete(actor=actor, users=users)
        for user in users:
            accounts.record_account_change(
                actor=actor, user_id=user.pk, before=accounts.account_state(user), after=None
            )
        super().delete_queryset(request, queryset)

    @admin.action(description="Désactiver les comptes sélectionnés", permissions=["change"])
    def deactivate(self, request, queryset):
        actor = _admin_actor(request)
        with transaction.atomic():
            released = sum(accounts.account_deactivate(actor=actor, user=user) for user in queryset.order_by("pk"))
        self.message_user(
            request,
            f"Comptes désactivés : {queryset.count()} (sessions fermées, jetons d'API révoqués ; "
            f"{released} tâche(s) remise(s) dans la file de leur équipe).",
        )
