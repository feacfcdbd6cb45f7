"""The `<id:pk>` path converter of every URL that carries a database id.

Django's `<id:…>` matches any number of digits: `/travail/taches/99999999999999999999/` reached the database and
SQLite raised an integer overflow (a 500). An id is 1 to 2^63 − 1 (a BigAutoField); anything else does not match
the pattern, hence a plain 404, before any view or query runs."""

MAX_ID = 2**63 - 1


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(value)  # no match: 404
        return number

    def to_url(self, value) -> str:
        return str(int(value))
