"""/api/v1/: resources, their transitions (one URL per declared transition) and history; schema and docs."""

from django.urls import path, re_path

from parcours.api import resources as r
from parcours.api import views
from parcours.api.docs import RedocView, SchemaView, SwaggerView
from parcours.api.errors import api_not_found


def _stateful(resource, list_view=None):
    base = resource.path
    patterns = [
        path(f"{base}/", (list_view or views.list_view(resource)).as_view(), name=f"{base}-list"),
        path(f"{base}/<id:pk>/", views.detail_view(resource).as_view(), name=f"{base}-detail"),
        path(f"{base}/<id:pk>/history/", views.history_view(resource).as_view(), name=f"{base}-history"),
    ]
    for spec in resource.transitions():
        patterns.append(
            path(
                f"{base}/<id:pk>/transitions/{spec.name}/",
                views.transition_view(resource, spec).as_view(),
                name=f"{base}-transition-{spec.name}",
            )
        )
    return patterns


app_name = "api"
urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    # Swagger UI with its init script at ?script (no inline script: CSP), ReDoc; both from the sidecar's files.
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    path("auth/token/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("access-log/", views.AccessLogListView.as_view(), name="access-log"),
    path("organisations/", views.OrganisationListView.as_view(), name="organisations-list"),
    path("organisations/<id:pk>/", views.OrganisationDetailView.as_view(), name="organisations-detail"),
    path("participants/", views.ParticipantListView.as_view(), name="participants-list"),
    path("participants/<id:pk>/", views.ParticipantDetailView.as_view(), name="participants-detail"),
    path("participants/<id:pk>/history/", views.ParticipantHistoryView.as_view(), name="participants-history"),
    path("participants/<id:pk>/notice/", views.ParticipantNoticeView.as_view(), name="participants-notice"),
    path("participants/<id:pk>/referent/", views.ParticipantReferentView.as_view(), name="participants-referent"),
    path(
        "participants/<id:pk>/subject-access/",
        views.ParticipantSubjectAccessView.as_view(),
        name="participants-subject-access",
    ),
    *_stateful(r.PATHWAYS),
    path("pathways/<id:pk>/follow-ups/", views.PathwayFollowUpsView.as_view(), name="pathways-follow-ups"),
    path("pathways/<id:pk>/exit-outcome/", views.PathwayExitOutcomeView.as_view(), name="pathways-exit-outcome"),
    *_stateful(r.REFERRALS, views.ReferralListView),
    *_stateful(r.PLACEMENTS),
    *_stateful(r.HOURS_LINES, views.HoursLineListView),
    path("job-offers/", views.JobOfferListView.as_view(), name="job-offers-list"),
    path("job-offers/<id:pk>/", views.detail_view(r.JOB_OFFERS).as_view(), name="job-offers-detail"),
    path("job-offers/<id:pk>/close/", views.JobOfferCloseView.as_view(), name="job-offers-close"),
    path("lots/", views.list_view(r.LOTS).as_view(), name="lots-list"),
    path("lots/<id:pk>/", views.detail_view(r.LOTS).as_view(), name="lots-detail"),
    path("lots/<id:pk>/statements/<str:month>/", views.LotStatementView.as_view(), name="lots-statement"),
    path(
        "lots/<id:pk>/statements/<str:month>/remind/",
        views.LotStatementRemindView.as_view(),
        name="lots-statement-remind",
    ),
    # Anything else under /api/v1/ is a 404 problem (never an HTML page, a slash redirect or a CSRF page).
    # No "$": matched by search, so an address with an encoded line break (%0A, which "." does not match) is caught.
    re_path(r"^.*", api_not_found, name="not-found"),
]
