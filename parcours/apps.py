from django.apps import AppConfig
from django.contrib.staticfiles.apps import StaticFilesConfig as StaticFilesConfig_


class ParcoursConfig(AppConfig):
    name = "parcours"
    verbose_name = "Parcours"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from parcours import checks  # noqa: F401  (registers the system checks)
        from parcours.work.listener import listener
        from workflows import work

        # The work layer (viewflow flows, tasks, timers) listens to what the services report.
        work.subscribe(listener)


class StaticFilesConfig(StaticFilesConfig_):
    # viewflow's own site is not used (parcours/work): its static files are not collected — one of its stylesheets
    # points at fonts it does not ship, which the hashing storage of production (whitenoise) refuses.
    ignore_patterns = [*StaticFilesConfig_.ignore_patterns, "viewflow"]
