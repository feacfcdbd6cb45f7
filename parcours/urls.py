from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from parcours.web import (
    adviser,
    auditor,
    common,
    data_protection,
    employer,
    facilitator,
    health,
    notifications,
    pages,
    passwords,
    preferences,
    reports,
)

urlpatterns = [
    path("", pages.home, name="home"),
    path("connexion/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("mot-de-passe/", passwords.PasswordChangeView.as_view(), name="password_change"),
    path("mot-de-passe/ok/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # « Mot de passe oublié ? »: Django's reset views, French addresses (parcours/web/passwords.py).
    path("mot-de-passe/oublie/", passwords.PasswordResetView.as_view(), name="password_reset"),
    path("mot-de-passe/oublie/envoye/", passwords.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "mot-de-passe/nouveau/<uidb64>/<token>/",
        passwords.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("mot-de-passe/nouveau/fait/", passwords.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("organisation/", pages.switch_organisation, name="switch_organisation"),
    path("participants/<id:pk>/", pages.participant_detail, name="participant_detail"),
    path("positionnements/<id:pk>/", pages.referral_detail, name="referral_detail"),
    path("workflows/", pages.workflow_diagrams, name="workflow_diagrams"),
    path("travail/", include("parcours.web.work")),
    path("actions/<str:machine>/<id:pk>/<str:name>/", common.transition, name="transition"),
    path("conseil/", include(adviser)),
    path("facilitation/", include(facilitator)),
    path("employeur/", include(employer)),
    path("audit/", include(auditor)),
    path("tableau-de-bord/", include(reports)),
    path("donnees-personnelles/", include(data_protection)),
    path("notifications/", notifications.notifications, name="notifications"),
    path("notifications/preferences/", preferences.notification_preferences, name="notification_preferences"),
    path("compte/securite/", preferences.account_security, name="account_security"),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health_live"),
    path("health/ready/", health.ready, name="health_ready"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("parcours.api.urls")),
]
