"""The VIES client against its sandbox: valid, invalid and down, and the cache of its answers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from koppel.connectors.vies import cache as vies_cache
from koppel.connectors.vies.client import ViesClient, read_answer, split
from koppel.documents.vat_rules import ViesOutcome

NUMBER = "BE0403019261"


@pytest.fixture
def vies(sandbox) -> Iterator[str]:
    """The sandbox's VIES, emptied: its control URL."""
    control = f"{sandbox.url}/_sandbox/vies"
    httpx.delete(f"{control}/numbers")
    httpx.post(f"{control}/knobs", json={"fail_next": [], "error_rate": 0, "latency_ms": 0})
    httpx.delete(f"{control}/requests")
    yield control
    httpx.delete(f"{control}/numbers")


@pytest.fixture
def client(sandbox) -> Iterator[ViesClient]:
    with ViesClient(f"{sandbox.url}/vies/rest-api", timeout=2) as item:
        yield item


def register(control: str, number: str = NUMBER, name: str = "BRASSERIE ANVERS BV") -> None:
    assert httpx.post(f"{control}/numbers", json={"vat_number": number, "name": name}).status_code == 201


def test_a_registered_number_is_valid(vies, client) -> None:
    register(vies)
    answer = client.check("BE 0403.019.261")
    assert answer.outcome == ViesOutcome.VALID and answer.vat_number == NUMBER
    assert answer.message == "registered to BRASSERIE ANVERS BV" and len(answer.checked_at) == 10
    [request] = httpx.get(f"{vies}/requests").json()
    assert request["body"] == {"countryCode": "BE", "vatNumber": "0403019261"}


def test_an_unregistered_number_is_invalid(vies, client) -> None:
    answer = client.check(NUMBER)
    assert answer.outcome == ViesOutcome.INVALID
    assert answer.message == "not registered as an active VAT number in VIES"


def test_a_member_state_offline_is_unavailable_never_invalid(vies, client) -> None:
    register(vies)
    httpx.post(f"{vies}/member-states/BE", json={"available": False})
    try:
        answer = client.check(NUMBER)
    finally:
        httpx.post(f"{vies}/member-states/BE", json={"available": True})
    assert answer.outcome == ViesOutcome.UNAVAILABLE and "MS_UNAVAILABLE" in answer.message


@pytest.mark.parametrize("status", [500, 503])
def test_vies_itself_down_is_unavailable(vies, client, status: int) -> None:
    httpx.post(f"{vies}/knobs", json={"fail_next": [status]})
    answer = client.check(NUMBER)
    assert answer.outcome == ViesOutcome.UNAVAILABLE and answer.message == "VIES answered SERVICE_UNAVAILABLE"


def test_no_answer_at_all_is_unavailable() -> None:
    with ViesClient("http://127.0.0.1:9/vies/rest-api", timeout=0.5) as client:
        answer = client.check(NUMBER)
    assert answer.outcome == ViesOutcome.UNAVAILABLE and answer.message.startswith("no answer from VIES")


def test_the_test_service_numbers(vies, sandbox) -> None:
    url = f"{sandbox.url}/vies/rest-api/check-vat-test-service"
    answers = {
        number: read_answer(f"BE{number}", r.status_code, r.json()).outcome
        for number in ("100", "200", "201", "300", "301")
        if (r := httpx.post(url, json={"countryCode": "BE", "vatNumber": number}))
    }
    assert answers == {
        "100": ViesOutcome.VALID,
        "200": ViesOutcome.INVALID,
        "201": ViesOutcome.INVALID,
        "300": ViesOutcome.UNAVAILABLE,
        "301": ViesOutcome.UNAVAILABLE,
    }


def test_greece_is_el_in_vies() -> None:
    assert split("GR094259216") == ("EL", "094259216") and split("EL 094259216") == ("EL", "094259216")


def test_answers_are_cached_and_unavailable_only_briefly(vies, sandbox, settings) -> None:
    from django.core.cache import cache

    settings.KOPPEL_VIES_URL = f"{sandbox.url}/vies/rest-api"
    cache.clear()
    register(vies)
    assert vies_cache.cached_check(NUMBER).outcome == ViesOutcome.VALID
    httpx.delete(f"{vies}/numbers")
    assert vies_cache.cached_check(NUMBER).outcome == ViesOutcome.VALID  # from the cache
    assert len(httpx.get(f"{vies}/requests").json()) == 1
    vies_cache.forget(NUMBER)
    httpx.post(f"{vies}/knobs", json={"fail_next": [503]})
    assert vies_cache.cached_check(NUMBER).outcome == ViesOutcome.UNAVAILABLE
    assert vies_cache.UNAVAILABLE_SECONDS < vies_cache.ANSWER_SECONDS
    cache.clear()
