"""A page address opened with the wrong method (a bookmarked or typed action's address: GET on a POST-only view)
answered 405 with an empty body: a blank page. The site's page instead, in the reader's layout, the Allow header
kept. The API answers its own problem details (parcours.api), untouched here."""

from django.template.loader import render_to_string


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and not response.content and not request.path.startswith("/api/"):
            response.content = render_to_string("405.html", request=request)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
