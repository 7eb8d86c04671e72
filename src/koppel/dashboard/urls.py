from django.urls import path

from . import connect, connection, support, views, where

app_name = "dashboard"
urlpatterns = [
    path("", views.record_list, name="records"),
    path("records/<int:pk>/", views.record_detail, name="record"),
    path("records/<int:pk>/process/", views.record_process, name="process"),
    path("records/<int:pk>/status/", support.record_status, name="record_status"),
    path("records/<int:pk>/problem/", support.report_problem, name="report_problem"),
    path("records/<int:pk>/invoice.pdf", support.invoice_pdf, name="invoice_pdf"),
    path("records/<int:pk>/invoice.xml", support.invoice_ubl, name="invoice_ubl"),
    path("ask/", support.ask_us, name="ask_us"),
    path("where/", where.where_is_order, name="where"),
    path("connections/<int:pk>/fetch/", where.fetch_and_book, name="fetch_and_book"),
    path("connections/", views.connection_list, name="connections"),
    path("connections/new/", connect.new_connection, name="connect"),
    path("connections/new/cancel/", connect.cancel_new_connection, name="connect_cancel"),
    path("connections/<int:pk>/", connection.connection_detail, name="connection"),
    path("connections/<int:pk>/configure/", connection.connection_configure, name="configure"),
    path("connections/<int:pk>/profile/", connection.account_profile, name="profile"),
    path("connections/<int:pk>/switch/", connection.connection_switch, name="switch"),
    path("connections/<int:pk>/delete/", connection.connection_delete, name="delete"),
    path("connections/<int:pk>/process-code/", connection.process_code, name="process_code"),
    path("connections/<int:pk>/reconnect/<str:side>/", connect.reconnect, name="reconnect"),
    path("connections/<int:pk>/webhook-secret/", connect.new_webhook_secret, name="webhook_secret"),
    path("connections/<int:pk>/backfill/", views.backfill_start, name="backfill"),
]
