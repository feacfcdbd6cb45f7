from parcours.selectors.journal import contact_hidden, pseudonymised
from parcours.web.nav import menu_for


def navigation(request):
    actor = getattr(request, "actor", None)
    return {
        "menu": menu_for(actor),
        "identity_hidden": actor is not None and pseudonymised(actor),
        "contact_hidden": actor is not None and contact_hidden(actor),
    }
