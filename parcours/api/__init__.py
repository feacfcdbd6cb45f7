"""The REST API of Parcours (/api/v1/): thin views over the selectors (reads) and the services (writes).

Errors are RFC 9457 problem details (errors.py); the caller acts for one organisation (auth.py); lists use
cursor pagination (pagination.py); transitions are derived from workflows.transitions (resources.py).
"""
