from django.urls import path

from . import views

app_name = "marketplace"
urlpatterns = [
    path("<int:pk>/", views.invoice_list, name="invoices"),
    path("<int:pk>/fetch/", views.fetch_now, name="fetch"),
    path("<int:pk>/ledgers/", views.ledger_settings, name="ledgers"),
    path("<int:pk>/<str:invoice_id>/", views.invoice_detail, name="invoice"),
    path("<int:pk>/<str:invoice_id>/book-order/", views.fetch_order, name="fetch_order"),
    path("<int:pk>/<str:invoice_id>/<str:what>/", views.download, name="download"),
]
