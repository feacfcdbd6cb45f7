from django.urls import path

from workflows import views

app_name = "work"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("a-prendre/", views.queue, name="queue"),
    path("equipe/", views.team, name="team"),
    path("terminees/", views.archive, name="archive"),
    path("repartir/", views.bulk_assign, name="bulk_assign"),
    path("circuits/", views.flows, name="flows"),
    path("taches/<int:pk>/", views.task_detail, name="task"),
    path("taches/<int:pk>/prendre/", views.task_claim, name="claim"),
    path("taches/<int:pk>/attribuer/", views.task_assign, name="assign"),
    path("taches/<int:pk>/liberer/", views.task_unassign, name="unassign"),
    path("taches/<int:pk>/reattribuer/", views.task_reassign, name="reassign"),
]
