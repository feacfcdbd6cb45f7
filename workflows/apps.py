from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows et journal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The work layer (viewflow flows, tasks, timers) listens to what the services report.
        from workflows import work
        from workflows.listener import listener

        work.subscribe(listener)
