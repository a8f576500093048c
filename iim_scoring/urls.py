from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path

from . import views


def _needs_mail(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Password reset only where mail is configured (EMAIL_URL): elsewhere the form said "sent"
    and nothing was sent, so it is not offered at all (404)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not settings.PASSWORD_RESET_ENABLED:
            raise Http404("Password reset is not available: ask a coordinator for a new password.")
        return view(request, *args, **kwargs)

    return wrapped


def _password_reset_enabled() -> bool:
    return settings.PASSWORD_RESET_ENABLED  # read when the login page renders


accounts = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            extra_context={"password_reset_enabled": _password_reset_enabled}
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password_reset/",
        _needs_mail(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        _needs_mail(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        _needs_mail(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        _needs_mail(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("data-protection/", views.data_protection, name="data-protection"),
    path("operations/", views.operations, name="operations"),
    path("accounts/", include(accounts)),
    path("admin/", admin.site.urls),
    path("cohorts/", include("cohorts.urls")),
    path("reading/", include("scoring.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("api/", include("iim_scoring.api.urls")),
    path("imports/", include("sheets.urls")),
]
