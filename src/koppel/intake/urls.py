from django.urls import path

from . import views

app_name = "intake"
urlpatterns = [path("<slug:source_kind>/<int:connection_id>", views.webhook, name="webhook")]
