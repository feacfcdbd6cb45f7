from django.utils.translation import gettext_lazy


class DomainError(Exception):
    """The one error type of the engine: a refused action, with a message (French by default, translated
    through gettext in the language of the request) and a stable code.

    `status` is the HTTP status the web and API layers answer with; `field` names the offending input.
    """

    STATUS_BY_CODE = {
        "forbidden": 403,
        "not_found": 404,
        "invalid_transition": 409,
        "concurrent_change": 409,
        "participant_anonymised": 409,
        "offer_closed": 409,
        "edit_conflict": 412,
        "stale_form": 409,
        "stale_selection": 409,
        # The month moved on (declared, reminded of, closed): the same request would pass on another month.
        "already_declared": 409,
        "statement_submitted": 409,
        "month_locked": 409,
        "month_closed": 409,
        "statement_conflict": 409,
    }
    # RFC 9457 extension members the API adds to the problem (e.g. the current version of an edited object).
    extensions: dict = {}

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self._message = message
        self.field = field

    @property
    def message(self) -> str:
        # Translated when raised (gettext), or when read for errors declared once (gettext_lazy, e.g. WORK_BUSY).
        return str(self._message)

    @property
    def status(self) -> int:
        # A duplicate conflicts with what exists (another offer, referral, follow-up… already there): a client
        # retrying after a timeout tells "already done" (409) from "bad input" (400).
        if self.code.startswith("duplicate_"):
            return 409
        return self.STATUS_BY_CODE.get(self.code, 400)

    def as_dict(self):
        return {"code": self.code, "detail": self.message, "field": self.field}

    def __repr__(self):
        return f"DomainError({self.code!r}, {self.message!r})"


# A task or a timer of the same file is being processed by someone else (the work layer's process lock).
WORK_BUSY = DomainError(
    "concurrent_change",
    gettext_lazy("Ce dossier est en cours de traitement (tâche ou minuteur) : réessayez dans un instant."),
)


class StaleForm(DomainError):
    """An action sent from a page opened before the object's last journal event (workflows.engine.seen_as):
    `events` are what was recorded since, (action, occurred_at) oldest first; `current` the chain's last sequence,
    which a page sent again carries, so that confirming is acting on what it now shows."""

    def __init__(self, *, machine: str, pk: int, current: int, events: list):
        super().__init__(
            "stale_form",
            gettext_lazy(
                "Ce dossier a changé depuis l'ouverture de cette page : rien n'a été enregistré. Vérifiez-le, puis "
                "confirmez à nouveau."
            ),
        )
        self.machine, self.pk, self.current, self.events = machine, pk, current, events


class RowsRefused(DomainError):
    """A batch (a monthly statement, an uploaded timesheet, a bulk decision) refused as a whole: nothing was written,
    and every bad row is named in `errors` — dicts {"row": …, "label": …, "field": …, "message": …}."""

    def __init__(self, code: str, message: str, *, errors: list):
        super().__init__(code, message)
        self.errors = list(errors)

    def as_dict(self):
        return {**super().as_dict(), "errors": self.errors}
