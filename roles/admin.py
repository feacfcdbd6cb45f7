from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from rest_framework.authtoken import admin as authtoken_admin  # noqa: F401  its registration first: removed below
from rest_framework.authtoken.models import TokenProxy

from roles.models import Membership, Organisation

# DRF's token admin listed every API token in full and let an administrator create one for anyone, then act as them.
# A token is issued only to its owner (POST /api/v1/auth/token/), revoked by its owner or `revoke_api_tokens`.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


class MembershipFormSet(BaseInlineFormSet):
    def get_unique_error_message(self, unique_check):
        # Django names the fields by their code ("user"); the only unique check here is (user, organisation).
        return "Un même utilisateur figure deux fois parmi les membres : une seule appartenance par organisation."


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]


class OrganisationForm(forms.ModelForm):
    # A SIRET is often written in groups (« 418 965 321 00027 »): read without its spaces, then checked (14 digits).
    # No Meta: the admin's own factory gives it the model and the fields it shows.
    siret = forms.CharField(label="SIRET", max_length=30, required=False)

    def clean_siret(self):
        return "".join(self.cleaned_data["siret"].split())


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    # parcours.admin adds what a change of its members does to their tasks (parcours.services.accounts).
    form = OrganisationForm
    list_display = ["name", "kind", "territory", "siret"]
    list_filter = ["kind"]
    search_fields = ["name", "siret", "territory"]
    filter_horizontal = ["partners"]
    inlines = [MembershipInline]
    # Organisations that acted are referenced by the journal (RESTRICT): deactivate, never bulk-delete.
    actions = None


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    # parcours.admin adds what a change does to the leaver's tasks, sessions and token (parcours.services.accounts).
    list_display = ["user", "organisation", "role", "is_active", "named_access"]
    list_filter = ["role", "is_active", "named_access", "organisation__kind"]
    search_fields = ["user__username", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]
    actions = None
