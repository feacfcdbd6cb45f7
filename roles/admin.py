from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from roles.models import Membership, Organisation


class MembershipFormSet(BaseInlineFormSet):
    def get_unique_error_message(self, unique_check):
        # Django names the fields by their code ("user"); the only unique check here is (user, organisation).
        return "Un même utilisateur figure deux fois parmi les membres : une seule appartenance par organisation."


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "territory", "siret"]
    list_filter = ["kind"]
    search_fields = ["name", "siret", "territory"]
    filter_horizontal = ["partners"]
    inlines = [MembershipInline]
    # Organisations that acted are referenced by the journal (RESTRICT): deactivate, never bulk-delete.
    actions = None


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "is_active", "named_access"]
    list_filter = ["role", "is_active", "named_access", "organisation__kind"]
    search_fields = ["user__username", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]
    actions = None
