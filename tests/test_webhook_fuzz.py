"""The webhook endpoints of every source (KMO Shops, WooCommerce, Shopify, bol.com) driven with hypothesis
over real HTTP (a live server on loopback): random bodies (bytes, and JSON in each platform's shape with
random values), random headers and random connection ids. Koppel never answers 5xx, always answers JSON,
and stores every correctly signed delivery with its exact bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.intake.models import WebhookDelivery
from tests.bol.conftest import BolShop
from tests.conftest import connect

pytestmark = pytest.mark.slow

EXAMPLES = 60
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Source:
    """A shop of ``kind`` as :func:`tests.conftest.connect` takes it."""

    kind: str
    url: str
    credentials: dict[str, str]


def hmac_hex(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_base64(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def connections(account, sandbox, administration) -> dict[str, Any]:
    """One connection per source kind, with how each platform signs a body."""
    bol = BolShop(sandbox, f"bol-{uuid.uuid4().hex[:10]}")
    made = {
        "kmoshops": connect(
            account, Source("kmoshops", f"{sandbox.url}/kmoshops/x", {"api_key": "k"}), administration
        ),
        "woocommerce": connect(
            account,
            Source("woocommerce", "https://woo.example.nl", {"consumer_key": "ck", "consumer_secret": "cs"}),
            administration,
        ),
        "shopify": connect(
            account, Source("shopify", "https://x.myshopify.com", {"access_token": "shpat"}), administration
        ),
        "bol": connect(account, bol, administration, source_settings={"source": "order"}),
    }
    keys = sandbox.app.bol.core.keys
    signers = {
        "kmoshops": lambda body: {"X-KMO-Signature": hmac_hex(body, made["kmoshops"].webhook_secret)},
        "woocommerce": lambda body: {
            "X-WC-Webhook-Signature": hmac_base64(body, made["woocommerce"].webhook_secret)
        },
        "shopify": lambda body: {"X-Shopify-Hmac-Sha256": hmac_base64(body, made["shopify"].webhook_secret)},
        "bol": lambda body: {"Signature": keys.signature_header(body)},
    }
    return {kind: (connection, signers[kind]) for kind, connection in made.items()}


# Bodies ----------------------------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=120),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=90, max_size=400),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ids = st.one_of(values, st.integers(min_value=1, max_value=10**6).map(str))
SHAPES = {
    "kmoshops": st.fixed_dictionaries(
        {
            "event": st.sampled_from(["order.created", "order.updated"]) | values,
            "order_id": ids,
            "shop": values,
        }
    ),
    "woocommerce": st.fixed_dictionaries({"id": ids, "status": values, "date_modified_gmt": values}),
    "shopify": st.fixed_dictionaries({"id": ids, "name": values, "updated_at": values}),
    "bol": st.fixed_dictionaries(
        {
            "retailerId": values,
            "timestamp": values,
            "event": st.fixed_dictionaries(
                {
                    "resource": st.sampled_from(["ORDER", "SHIPMENT"]) | values,
                    "type": values,
                    "resourceId": ids,
                }
            )
            | values,
        }
    ),
}


def encoded(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def bodies(kind: str) -> st.SearchStrategy[bytes]:
    return st.one_of(SHAPES[kind].map(encoded), values.map(encoded), st.binary(max_size=300))


#: What HTTP carries in a header value (visible ASCII and obs-text, no surrounding blanks), sent as bytes.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
).map(str.strip)
HEADERS = {
    "kmoshops": ["X-KMO-Event", "X-KMO-Delivery"],
    "woocommerce": ["X-WC-Webhook-Topic", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Resource"],
    "shopify": ["X-Shopify-Topic", "X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-Triggered-At"],
    "bol": ["X-Event-Id"],
}


def headers_for(kind: str) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(HEADERS[kind]), header_text, max_size=len(HEADERS[kind]))


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    raw = [(name.encode(), value.encode("latin-1")) for name, value in sent.items()]
    response = httpx.post(url, content=body, headers=raw, timeout=30)
    assert response.status_code < 500, (response.status_code, response.text, body[:300], headers)
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    return response


def stored_bytes(delivery: WebhookDelivery) -> bytes:
    return bytes(delivery.raw_body) if delivery.raw_body is not None else delivery.body.encode()


# Properties ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["kmoshops", "woocommerce", "shopify", "bol"])
def test_every_signed_delivery_is_stored_and_none_is_a_5xx(live_server, connections, kind) -> None:
    connection, sign = connections[kind]
    url = live_server.url + connection.webhook_path

    @FUZZ
    @given(body=bodies(kind), headers=headers_for(kind))
    def deliver(body: bytes, headers: dict[str, str]) -> None:
        before = WebhookDelivery.objects.filter(connection=connection).count()
        response = post(url, body, {**headers, **sign(body)})
        if response.status_code == 200 and response.json().get("ping"):
            return
        deliveries = WebhookDelivery.objects.filter(connection=connection).order_by("-id")
        assert deliveries.count() == before + 1, (response.status_code, response.text)
        assert stored_bytes(deliveries.first()) == body

    deliver()


@pytest.mark.parametrize("kind", ["kmoshops", "woocommerce", "shopify", "bol"])
def test_unsigned_or_misaddressed_webhooks_get_a_json_4xx(live_server, connections, kind) -> None:
    connection, _ = connections[kind]
    rejected_before = type(connection).objects.get(pk=connection.pk).rejected_webhooks

    @FUZZ
    @given(
        body=bodies(kind),
        headers=st.dictionaries(
            st.sampled_from(
                [
                    *HEADERS[kind],
                    "X-KMO-Signature",
                    "X-WC-Webhook-Signature",
                    "X-Shopify-Hmac-Sha256",
                    "Signature",
                ]
            ),
            header_text,
        ),
        path=st.one_of(
            st.just(connection.webhook_path),
            st.integers(min_value=-(10**25), max_value=10**25).map(lambda n: f"/webhooks/{kind}/{n}"),
            st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P"]), max_size=30).map(
                lambda t: f"/webhooks/{kind}/{t}"
            ),
        ),
    )
    def deliver(body: bytes, headers: dict[str, str], path: str) -> None:
        response = post(live_server.url + httpx.URL(path).raw_path.decode(), body, headers)
        assert 400 <= response.status_code < 500 or response.json().get("ping"), response.text
        assert "error" in response.json() or response.json().get("ping")

    deliver()
    assert type(connection).objects.get(pk=connection.pk).rejected_webhooks >= rejected_before
