"""The opt-in profile of the pipeline: inert when off, one JSON line per record with its phases when on.
No timing is asserted, only what was recorded."""

from __future__ import annotations

import json

import pytest

from koppel.sync import profiling
from koppel.sync.models import State
from tests.conftest import book, make_order, record_of


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "profile.jsonl"
    profiling.enable(str(path))
    yield path
    profiling.disable()


def test_disabled_it_records_nothing(tmp_path, shop, connection, deliver):
    assert not profiling.ENABLED  # the tests run without KOPPEL_PROFILE
    assert profiling.phase("fetch") is profiling.phase("debtor")  # one shared no-op
    with profiling.phase("fetch"):
        pass
    profiling.watch(object())

    record = book(shop, connection, deliver, make_order())

    assert record.state == State.HANDLED, record.message
    assert profiling._current() is None
    assert list(tmp_path.iterdir()) == []


def test_enabled_it_writes_one_line_per_record_with_its_phases(profile, shop, connection, deliver):
    record = book(shop, connection, deliver, make_order())

    assert record.state == State.HANDLED, record.message
    lines = [json.loads(line) for line in profile.read_text().splitlines()]
    [line] = [line for line in lines if line["record"] == record.pk and line["outcome"] == "handled"]
    phases = line["phases"]
    assert {"claim", "fetch", "checks", "debtor", "invoice", "outcome"} <= set(phases)
    assert phases["fetch"]["calls"] == 1  # GET the order from the shop
    assert phases["invoice"]["calls"] >= 2  # the search for the invoice and its POST
    assert phases["debtor"]["calls"] >= 1
    assert sum(p["calls"] for p in phases.values()) == len(record.attempt_log.order_by("-pk").first().calls)
    # The worker leased the record with its batch (before the record's profile began): no statement of
    # its own; the batch's lease and read count among the thread's totals.
    assert phases["claim"]["sql"] == 0
    assert phases["outcome"]["sql"] >= 2  # the record's outcome and its attempt
    assert line["transactions"] >= 1  # finish() writes in one transaction
    assert line["thread_totals"]["sql"] >= sum(p["sql"] for p in phases.values())
    assert all(p["ms"] >= 0 and p["http_ms"] >= 0 for p in phases.values())


def test_a_phase_outside_a_record_records_nothing(profile):
    with profiling.phase("fetch"):
        pass
    assert not profile.exists()


def test_a_record_processed_alone_leases_and_reads_itself(profile, shop, connection, deliver):
    from koppel.sync import pipeline

    order = make_order()
    shop.place(order)
    assert deliver(connection, order["id"]).status_code == 202
    record = record_of(connection, order)
    outcome = pipeline.process(record.pk, "lone-worker")

    assert outcome is not None and outcome.state == State.HANDLED, outcome
    lines = [json.loads(line) for line in profile.read_text().splitlines()]
    [line] = [line for line in lines if line["record"] == record.pk]
    assert line["phases"]["claim"]["sql"] == 2  # the lease and the read of the record
