def current_organisation(request):
    return {
        "current_membership": getattr(request, "membership", None),
        "memberships": getattr(request, "memberships", []),
    }
