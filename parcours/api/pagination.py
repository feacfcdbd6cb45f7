"""Cursor pagination on an integer column (stable under inserts; positions checked before any query)."""

import re

from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from parcours.api.errors import ApiProblem

POSITION_RE = re.compile(r"-?[0-9]{1,18}")


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_cursor_message = "Curseur de pagination invalide."
    cursor_query_description = "Curseur de pagination (reprenez l'adresse `next` ou `previous` de la réponse)."
    page_size_query_description = "Nombre de résultats par page (200 au plus)."

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = False
        if cursor is False or (
            cursor is not None and cursor.position is not None and not POSITION_RE.fullmatch(cursor.position)
        ):
            raise ApiProblem(
                status.HTTP_400_BAD_REQUEST,
                "invalid_cursor",
                self.invalid_cursor_message,
                field=self.cursor_query_param,
            )
        return cursor


class SequenceCursorPagination(IdCursorPagination):
    """Journal events of one object, oldest first."""

    ordering = "sequence"
