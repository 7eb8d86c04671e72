"""Webhook intake through Django: verify the signature over the raw body, store the delivery, note the
order, answer fast (the work is :func:`koppel.intake.receive.receive`'s, for a batch of one).

A platform that sends the whole order in its signed webhook (WooCommerce, Shopify) hands it on with its
modification time, and the worker books it without fetching it; for the others the worker fetches the order.

A platform's unsigned "is this URL alive" ping (WooCommerce, when a webhook is created) is answered 200. A
delivery whose id was seen before (platforms retry, and send the same delivery twice) is stored as a
duplicate and changes nothing; the record's unique constraint would make it harmless anyway, but this keeps
the worker from fetching the order again and shows the duplicate on the dashboard.

In ``koppel serve`` the webhooks of platforms that sign with the connection's secret alone are taken before
Django by the webhook gate (``intake.gate``), which hands the same function larger batches; this view takes
the others (bol.com checks its signatures with keys behind its API) and every request of the test client.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .receive import Answer, Arrival, problem, receive


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other address under /webhooks/ (a negative or non-numeric connection id, a typo)."""
    return response(problem(404, "CONNECTION_UNKNOWN", "There is no connection at this webhook address"))


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, source_kind: str, connection_id: int) -> JsonResponse:
    headers = {key.lower(): value for key, value in request.headers.items()}
    (answer,) = receive([Arrival(source_kind, connection_id, request.body, headers)])
    return response(answer)


def response(answer: Answer) -> JsonResponse:
    return JsonResponse(answer.content, status=answer.status)
