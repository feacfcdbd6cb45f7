"""The answer to a locked-out login (django-axes' AXES_LOCKOUT_CALLABLE): the lockout page with the reason in the
page's language (web and admin), or a problem-details 429 (API), with Retry-After. The password-change page that
reaches the lockout with wrong current passwords (parcours.web.passwords) has signed its session out: the page says
both in one message."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from parcours.api.errors import PROBLEM_CONTENT_TYPE, problem
from parcours.doors import SIGNED_OUT, lockout_message


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
        message = lockout_message(signed_out=getattr(request, SIGNED_OUT, False))
        # error_page: « Erreur : » before the title, however the page is reached (sign-in or password change).
        context = {"message": message, "error_page": True}
        response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = retry_after
    return response
