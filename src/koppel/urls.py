from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.views import serve as serve_static
from django.http import JsonResponse
from django.urls import include, path, re_path

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
    # uvicorn serves no files: static assets (dashboard CSS, Swagger UI) come through the app's finders.
    # Behind a proxy, `koppel collectstatic` and let the proxy serve STATIC_ROOT instead.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
    path("", include("koppel.dashboard.urls")),
]
