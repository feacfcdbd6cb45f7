"""Current organisation: a user in several organisations acts for one at a time (stored in session)."""

from roles.actor import Actor
from roles.models import Membership

SESSION_KEY = "current_membership_id"


def memberships_of(user):
    return (
        Membership.objects.filter(user=user, is_active=True)
        .select_related("organisation", "user")
        .order_by("organisation__name")
    )


class CurrentOrganisationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.actor = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = list(memberships_of(user))
            request.memberships = memberships
            chosen = request.session.get(SESSION_KEY)
            membership = next((m for m in memberships if m.pk == chosen), None)
            if membership is None and memberships:
                membership = memberships[0]
                request.session[SESSION_KEY] = membership.pk
            if membership is not None:
                request.membership = membership
                request.actor = Actor.from_membership(membership)
        else:
            request.memberships = []
        return self.get_response(request)
