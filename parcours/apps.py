from django.apps import AppConfig


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
