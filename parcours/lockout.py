"""The answer to a locked-out login (django-axes' AXES_LOCKOUT_CALLABLE): the login page with the reason in French
(web and admin), or a problem-details 429 (API), with Retry-After."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from parcours.api.errors import PROBLEM_CONTENT_TYPE, problem
from parcours.doors import lockout_message


def lockout_response(request, original_response=None, credentials=None):
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        body = problem(
            status_code=429, code="too_many_login_attempts", detail=lockout_message(), instance=request.path
        )
        response = JsonResponse(
            body, status=429, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
    response["Retry-After"] = retry_after
    return response
