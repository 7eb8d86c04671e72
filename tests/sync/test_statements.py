"""The prepared statements store and read what the ORM stores and reads, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from koppel.connections.models import Connection
from koppel.sync import statements
from koppel.sync.models import Attempt, Kind, Record, State
from koppel.sync.queue import enqueue_many


def new_record(connection: Connection, order_id: str, **fields) -> Record:
    return Record(connection=connection, kind=Kind.ORDER, source_order_id=order_id, **fields)


@pytest.mark.django_db(transaction=True)
def test_inserted_records_read_back_through_the_orm_as_they_were_made(connection):
    placed = timezone.now() - timedelta(days=3)
    payload = {"id": 7, "lines": [{"sku": "A-1", "price": "12.10"}], "note": "é\u20ac", "paid": True}
    made = [
        new_record(connection, "7", payload=payload, order_created_at=placed, total=Decimal("12.10")),
        new_record(connection, "8", state=State.OPEN, payload=None),
    ]
    statements.insert(Record, made, returning_pk=True)

    assert all(record.pk for record in made)
    first, second = (Record.objects.get(pk=record.pk) for record in made)
    assert first.payload == payload
    assert first.order_created_at == placed
    assert first.total == Decimal("12.10")
    assert first.state == State.QUEUED  # the field's default, as bulk_create stores it
    assert first.created_at is not None
    assert (second.source_order_id, second.state, second.payload) == ("8", State.OPEN, None)


@pytest.mark.django_db(transaction=True)
def test_select_converts_as_the_orm_does(connection):
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(last_webhook_at=now, active=False)

    rows = statements.select(
        Connection, ("id", "active", "last_webhook_at", "source_settings"), {"id": [connection.pk]}
    )

    expected = Connection.objects.values_list("id", "active", "last_webhook_at", "source_settings").get()
    assert rows == [expected]
    assert rows[0][1] is False and rows[0][2] == now


@pytest.mark.django_db(transaction=True)
def test_instances_load_the_fields_asked_for_and_defer_the_rest(connection):
    (found,) = statements.instances(Connection, ("source_kind", "id", "active"), {"id": [connection.pk]})

    assert (found.pk, found.source_kind, found.active) == (connection.pk, connection.source_kind, True)
    assert "target_kind" in found.get_deferred_fields()
    assert found.target_kind == connection.target_kind  # read when first used, as with only()


@pytest.mark.django_db(transaction=True)
def test_conditions_with_many_values_one_value_and_none(connection):
    statements.insert(Record, [new_record(connection, str(n)) for n in range(1, 6)])

    both = statements.select(
        Record, ("source_order_id",), {"connection": connection.pk, "source_order_id": ["2", "4", "9"]}
    )
    nothing = statements.select(Record, ("source_order_id",), {"source_order_id": []})

    assert sorted(both) == [("2",), ("4",)]
    assert nothing == []


@pytest.mark.django_db(transaction=True)
def test_update_changes_the_rows_that_meet_the_condition(connection):
    made = [new_record(connection, str(n)) for n in (1, 2, 3)]
    statements.insert(Record, made, returning_pk=True)

    changed = statements.update(
        Record, {"state": State.HANDLED, "message": "booked"}, {"id": [made[0].pk, made[2].pk]}
    )

    assert changed == 2
    states = dict(Record.objects.values_list("source_order_id", "state"))
    assert states == {"1": State.HANDLED, "2": State.QUEUED, "3": State.HANDLED}


@pytest.mark.django_db(transaction=True)
def test_an_inserted_attempt_keeps_its_calls_and_its_record(connection):
    record = Record.objects.create(connection=connection, source_order_id="1")
    calls = [{"method": "GET", "path": "/orders/1", "status": 200}]
    attempt = Attempt(record=record, trigger="webhook", outcome="handled", calls=calls)

    statements.insert(Attempt, [attempt], returning_pk=True)

    stored = Attempt.objects.get(pk=attempt.pk)
    assert (stored.record_id, stored.calls, stored.outcome) == (record.pk, calls, "handled")


@pytest.mark.django_db(transaction=True)
def test_queued_tasks_are_rows_the_task_backend_reads(connection):
    records = [Record.objects.create(connection=connection, source_order_id=str(n)) for n in (1, 2)]

    assert enqueue_many([record.pk for record in records], trigger="webhook") == 2

    tasks = list(DBTaskResult.objects.ready())
    assert sorted(task.args_kwargs["args"][0] for task in tasks) == sorted(r.pk for r in records)
    assert all(task.enqueued_at is not None and task.task_path.endswith("process_record") for task in tasks)


@pytest.mark.django_db(transaction=True)
def test_a_large_insert_is_split_into_batches_the_backend_takes(connection):
    made = [new_record(connection, str(n)) for n in range(1500)]  # SQLite: 999 parameters a statement

    statements.insert(Record, made, returning_pk=True)

    assert Record.objects.count() == 1500
    assert len({record.pk for record in made}) == 1500
    assert Record.objects.get(pk=made[1234].pk).source_order_id == "1234"


def synchronous_commit() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_an_unflushed_transaction_commits_what_it_wrote_without_waiting_for_the_flush(connection):
    from django.db import connection as database

    with statements.unflushed():
        statements.insert(Record, [new_record(connection, "1")])
        if database.vendor == "postgresql":
            assert synchronous_commit() == "off"

    assert Record.objects.filter(source_order_id="1").exists()  # committed, and seen by everyone
    if database.vendor == "postgresql":
        assert synchronous_commit() == "on"  # for that transaction alone


@pytest.mark.django_db(transaction=True)
def test_an_unflushed_block_inside_a_transaction_leaves_the_outer_one_as_it_is(connection):
    from django.db import connection as database
    from django.db import transaction

    with transaction.atomic():
        with statements.unflushed():
            statements.insert(Record, [new_record(connection, "1")])
        if database.vendor == "postgresql":
            assert synchronous_commit() == "on"
    assert Record.objects.count() == 1
