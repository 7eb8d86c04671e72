""" "Where is order X?": one search box that explains any order number, and fetches an order Koppel has not
seen yet when the merchant asks for it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from koppel.connectors.errors import ConnectorError

from .access import visible_connections


@login_required
def where_is_order(request: HttpRequest) -> HttpResponse:
    from koppel.sync import explain

    connections = visible_connections(request.user)
    connection_id = request.GET.get("connection", "")
    if connection_id.isascii() and connection_id.isdigit() and len(connection_id) < 19:
        connections = connections.filter(pk=int(connection_id))
    number = request.GET.get("number", "").replace("\x00", "").strip()[:100]  # PostgreSQL refuses NUL
    answer = explain.explain_order(list(connections), number) if number else None
    return render(
        request,
        "dashboard/where.html",
        {"number": number, "answer": answer, "connection_id": connection_id},
    )


@login_required
@require_POST
def fetch_and_book(request: HttpRequest, pk: int) -> HttpResponse:
    from koppel.sync import explain

    connection = get_object_or_404(visible_connections(request.user), pk=pk)
    order_id = request.POST.get("order", "").strip()[:100]
    try:
        record = explain.fetch_and_book(connection, order_id)
    except ConnectorError as exc:
        messages.error(request, exc.message)
        return redirect(connection.get_absolute_url())
    messages.success(request, _("The order is fetched and queued for booking."))
    return redirect(f"{record.get_absolute_url()}?follow=1")
