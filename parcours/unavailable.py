"""A shared service down (Redis: the login lockouts, the API throttles, the channel layer) answers 503 « Service
momentanément indisponible » with Retry-After — a problem (code `service_unavailable`) on the API, a page elsewhere —
instead of a 500 saying the code failed. Logged as a warning with its cause for the operator."""

import logging

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from parcours.api.errors import PROBLEM_CONTENT_TYPE, problem

logger = logging.getLogger("parcours.unavailable")

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 30
DETAIL = "Service momentanément indisponible : réessayez dans un instant."


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UNAVAILABLE):
            return None
        logger.warning("%s %s: a shared service is unavailable", request.method, request.path, exc_info=exception)
        if request.path.startswith("/api/"):
            body = problem(status_code=503, code="service_unavailable", detail=DETAIL, instance=request.path)
            response = JsonResponse(
                body, status=503, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
            )
        else:
            # Without the request's context, as the 500 page: the session or the messages may need the service.
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
