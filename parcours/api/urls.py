"""/api/v1/: resources, their transitions (one URL per declared transition) and history; schema and docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from parcours.api import resources as r
from parcours.api import views
from parcours.api.errors import api_not_found


def _stateful(resource, list_view=None):
    base = resource.path
    patterns = [
        path(f"{base}/", (list_view or views.list_view(resource)).as_view(), name=f"{base}-list"),
        path(f"{base}/<int:pk>/", views.detail_view(resource).as_view(), name=f"{base}-detail"),
        path(f"{base}/<int:pk>/history/", views.history_view(resource).as_view(), name=f"{base}-history"),
    ]
    for spec in resource.transitions():
        patterns.append(
            path(
                f"{base}/<int:pk>/transitions/{spec.name}/",
                views.transition_view(resource, spec).as_view(),
                name=f"{base}-transition-{spec.name}",
            )
        )
    return patterns


app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    path("organisations/", views.OrganisationListView.as_view(), name="organisations-list"),
    path("organisations/<int:pk>/", views.OrganisationDetailView.as_view(), name="organisations-detail"),
    path("participants/", views.ParticipantListView.as_view(), name="participants-list"),
    path("participants/<int:pk>/", views.ParticipantDetailView.as_view(), name="participants-detail"),
    path("participants/<int:pk>/history/", views.ParticipantHistoryView.as_view(), name="participants-history"),
    path(
        "participants/<int:pk>/subject-access/",
        views.ParticipantSubjectAccessView.as_view(),
        name="participants-subject-access",
    ),
    *_stateful(r.PATHWAYS),
    path("pathways/<int:pk>/follow-ups/", views.PathwayFollowUpsView.as_view(), name="pathways-follow-ups"),
    *_stateful(r.REFERRALS, views.ReferralListView),
    *_stateful(r.PLACEMENTS),
    *_stateful(r.HOURS_LINES, views.HoursLineListView),
    path("job-offers/", views.JobOfferListView.as_view(), name="job-offers-list"),
    path("job-offers/<int:pk>/", views.detail_view(r.JOB_OFFERS).as_view(), name="job-offers-detail"),
    path("job-offers/<int:pk>/close/", views.JobOfferCloseView.as_view(), name="job-offers-close"),
    path("lots/", views.list_view(r.LOTS).as_view(), name="lots-list"),
    path("lots/<int:pk>/", views.detail_view(r.LOTS).as_view(), name="lots-detail"),
    path("lots/<int:pk>/statements/<str:month>/", views.LotStatementView.as_view(), name="lots-statement"),
    # Anything else under /api/v1/ is a 404 problem (never an HTML page, a slash redirect or a CSRF page).
    re_path(r"^.*$", api_not_found, name="not-found"),
]
