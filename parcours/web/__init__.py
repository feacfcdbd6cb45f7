"""Server-rendered pages, one module per role, sharing the helpers of parcours.web.common."""
