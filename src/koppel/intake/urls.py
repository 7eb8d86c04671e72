from django.urls import path, re_path

from . import views

app_name = "intake"
urlpatterns = [
    path("<slug:source_kind>/<int:connection_id>", views.webhook, name="webhook"),
    re_path(r"^(?P<rest>.*)$", views.unknown),
]
