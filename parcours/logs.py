"""Structured logs: one JSON object per line, each tied to the request it belongs to.

- `RequestIdMiddleware` takes the request id given by the proxy (nginx's `$request_id`, header X-Request-ID) when it
  looks like one, or makes a fresh one; it is returned in the X-Request-ID response header, carried by every log
  line written while the request runs (a context variable), and one line per request says what was served, to whom
  and how fast (`parcours.request`).
- `JsonFormatter` writes the record's message, level, logger, time (UTC, ISO 8601), request id, the exception if
  any, and the `extra` fields given to the logger call.

Log lines carry ids and codes, never personal data (no names, no e-mail addresses, no query strings).
"""

import contextvars
import datetime
import json
import logging
import re
import time
import uuid

request_id_var = contextvars.ContextVar("request_id", default="-")
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Attributes every LogRecord has: anything else was given through `extra=` and is written as a field.
# (uvicorn adds `color_message`, the same message with terminal colours.)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id", "color_message"}

request_logger = logging.getLogger("parcours.request")
QUIET_PREFIXES = ("/static/", "/health/")


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class RequestIdMiddleware:
    """First in the chain: the request id, and one log line per request once it is answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_ID.match(given) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            level = logging.DEBUG if request.path.startswith(QUIET_PREFIXES) else logging.INFO
            if response.status_code >= 500:
                level = logging.ERROR
            user = getattr(request, "user", None)
            request_logger.log(
                level,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                },
            )
            return response
        finally:
            request_id_var.reset(token)
