from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.record_list, name="records"),
    path("records/<int:pk>/", views.record_detail, name="record"),
    path("records/<int:pk>/process/", views.record_process, name="process"),
    path("connections/", views.connection_list, name="connections"),
    path("connections/<int:pk>/backfill/", views.backfill_start, name="backfill"),
]
