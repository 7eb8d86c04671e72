from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path

from koppel.api.api import api


def health(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("webhooks/", include("koppel.intake.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/", include("koppel.accounts.urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health", health),
    path("i18n/", include("django.conf.urls.i18n")),
    path("marketplace-invoices/", include("koppel.marketplace.urls")),
    path("", include("koppel.dashboard.urls")),
]
