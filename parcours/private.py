"""Answers about people are not kept by browsers nor proxies: `Cache-Control: private, no-store` on every page of a
signed-in user and every API answer (a shared computer's back button or disk cache, a proxy between the user and the
service, held a young person's file after the sign-out). An answer that says how it may be kept (static files, the
health checks) keeps its own word."""

from django.utils.cache import patch_cache_control

API_PREFIX = "/api/"


class PrivateResponsesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.has_header("Cache-Control"):
            return response
        user = getattr(request, "user", None)
        if request.path.startswith(API_PREFIX) or (user is not None and user.is_authenticated):
            patch_cache_control(response, private=True, no_store=True)
        return response
