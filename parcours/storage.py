"""Static files of production: what `collectstatic` gathers, and whitenoise's compressed, hashed copies."""

from django.contrib.staticfiles.apps import StaticFilesConfig as DjangoStaticFilesConfig
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesConfig(DjangoStaticFilesConfig):
    # viewflow's own site is not used (parcours/work): its static files are not collected — one of its stylesheets
    # points at fonts it does not ship, which the hashing storage refuses.
    ignore_patterns = [*DjangoStaticFilesConfig.ignore_patterns, "viewflow"]


class StaticStorage(CompressedManifestStaticFilesStorage):
    # The vendored files (static/vendor) name source maps that are not shipped: their references are left alone
    # instead of failing `collectstatic`; stylesheets' url() and @import references are still hashed.
    patterns = tuple(
        (extension, tuple(p for p in rules if "sourceMappingURL" not in (p if isinstance(p, str) else p[0])))
        for extension, rules in CompressedManifestStaticFilesStorage.patterns
    )
