"""The schema and the interactive docs (drf-spectacular's views), with the API's negotiation and error answers."""

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from parcours.api.errors import PROBLEM_CONTENT_TYPE
from parcours.api.views import FrenchMixin


class JsonProblemsMixin(FrenchMixin):
    """Errors (401, 405, 406, 429…) rendered as JSON problems: these views' own renderers (YAML, HTML templates) wrote
    them as YAML, or as the text "401 Unauthorized", under an application/problem+json type. `?format=xml` is a 406
    (FrenchMixin's negotiation), not DRF's 404."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.exception:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = PROBLEM_CONTENT_TYPE
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JsonProblemsMixin, SpectacularAPIView):
    pass


class SwaggerView(JsonProblemsMixin, SpectacularSwaggerSplitView):
    pass


class RedocView(JsonProblemsMixin, SpectacularRedocView):
    pass
