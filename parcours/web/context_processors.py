from parcours.web.nav import menu_for


def navigation(request):
    return {"menu": menu_for(getattr(request, "actor", None))}
