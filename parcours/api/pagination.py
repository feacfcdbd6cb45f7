"""Cursor pagination on an integer column (stable under inserts; positions checked before any query)."""

import datetime
import re

from django.db import connection
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from parcours.api.errors import ApiProblem
from parcours.selectors.core import FEW_ROWS, among_its_rows

POSITION_RE = re.compile(r"-?[0-9]{1,18}")


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
    few_rows_first = True  # a scoped list: see _among_few
    invalid_cursor_message = "Curseur de pagination invalide."
    cursor_query_description = "Curseur de pagination (reprenez l'adresse `next` ou `previous` de la réponse)."
    page_size_query_description = "Nombre de résultats par page (200 au plus)."

    def valid_position(self, position: str) -> bool:
        """A position this pagination writes in its cursors (an id): checked before it reaches a query."""
        return bool(POSITION_RE.fullmatch(position))

    def get_page_size(self, request):
        """`?page_size=`: 1 to `max_page_size` in ASCII digits, else a 400 problem as for the other query parameters
        (DRF fell back to the default for "abc", "0" or "" and read "١٢" as 12)."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        value = values[-1]
        if len(values) > 1 or not (
            value.isascii() and value.isdigit() and len(value) <= 6 and 1 <= int(value) <= self.max_page_size
        ):  # given twice, the last one won
            raise ApiProblem(
                status.HTTP_400_BAD_REQUEST,
                "invalid_input",
                f"Nombre de résultats par page : un entier de 1 à {self.max_page_size} est attendu.",
                field=self.page_size_query_param,
            )
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = False
        if cursor is False or (
            cursor is not None and cursor.position is not None and not self.valid_position(cursor.position)
        ):
            raise ApiProblem(
                status.HTTP_400_BAD_REQUEST,
                "invalid_cursor",
                self.invalid_cursor_message,
                field=self.cursor_query_param,
            )
        return cursor

    def paginate_queryset(self, queryset, request, view=None):
        """The page's rows chosen on the rows alone (their key and position), then read with what the list shows.
        Sorting the joined rows made PostgreSQL join the most recent referrals of the whole table to eight tables
        before the employer's grant kept one in fifty (34 ms for a page at 100,000 pathways, growing with the table).
        One more statement, a fixed one."""
        if self.few_rows_first:
            queryset = _among_few(queryset)
        ordering = (self.ordering,) if isinstance(self.ordering, str) else tuple(self.ordering)
        positions = {"pk", *(field.lstrip("-") for field in ordering)}
        page = super().paginate_queryset(queryset.select_related(None).only(*positions), request, view)
        if not page:
            return page
        rows = queryset.in_bulk([row.pk for row in page])
        return [rows[row.pk] for row in page if row.pk in rows]


def _among_few(queryset):
    """On PostgreSQL, a list of at most FEW_ROWS rows (counted up to one more: one statement; an API list has no
    count of its own) is paged among its rows (`selectors.among_its_rows`): a small facilitation organisation's hours
    lines were looked for among every line of the table (83 → 30 ms at 1,000,000 pathways)."""
    if connection.vendor != "postgresql" or queryset.order_by()[: FEW_ROWS + 1].count() > FEW_ROWS:
        return queryset
    return among_its_rows(queryset, FEW_ROWS)


class SequenceCursorPagination(IdCursorPagination):
    """Journal events of one object, oldest first (read on the object's own index)."""

    ordering = "sequence"
    few_rows_first = False


class EventCursorPagination(IdCursorPagination):
    """A participant's journal events, across their objects: oldest first by date, then by id (an object's
    `sequence` only orders its own events). The cursor's position is the date; events of the same instant are told
    apart by the cursor's offset, in id order."""

    ordering = ("occurred_at", "id")
    few_rows_first = False

    def valid_position(self, position: str) -> bool:
        if not position.isascii() or len(position) > 40:
            return False
        try:
            moment = datetime.datetime.fromisoformat(position)
        except ValueError:
            return False
        return moment.tzinfo is not None  # as written by the pagination (an aware datetime)
