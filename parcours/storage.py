"""Static files storage of production: whitenoise's compressed, hashed copies (collectstatic)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    # The vendored files (static/vendor) name source maps that are not shipped: their references are left alone
    # instead of failing `collectstatic`; stylesheets' url() and @import references are still hashed.
    patterns = tuple(
        (extension, tuple(p for p in rules if "sourceMappingURL" not in (p if isinstance(p, str) else p[0])))
        for extension, rules in CompressedManifestStaticFilesStorage.patterns
    )
