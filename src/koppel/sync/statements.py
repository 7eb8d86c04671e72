"""Statements made once per shape, for the paths taken once per webhook or per order.

Django's ORM builds every query anew: the queryset, its filters, the compiler, each value through its lookup.
On the intake's batch and the worker's lease and outcome that building cost more than the database's own
work (a third of the web process's CPU per webhook). These helpers make the SQL text once per shape (the
model, its columns, how many values each ``IN`` holds) from the model's own quoted column names, and prepare
the values as the ORM does: each field's ``pre_save`` and ``get_db_prep_save`` on the way in, its
``get_db_prep_value`` in a condition, the backend's and the field's converters on the way out. What is stored
and read is what the ORM would have stored and read; every value is a parameter.

A condition is a mapping of field names to a value (``=``), or to a list, tuple or set of values (``IN``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction

M = TypeVar("M", bound=models.Model)
Where = Mapping[str, Any]
#: A condition's shape: each field name, with the number of its values (``None``: one, compared with ``=``).
Shape = tuple[tuple[str, int | None], ...]
Converter = Callable[[Any, Any, Any], Any]
#: A column's converters, with the column expression the ORM would pass them; ``None``: none.
Converters = tuple[Any, tuple[Converter, ...]] | None


def select(model: type[models.Model], names: Sequence[str], where: Where) -> list[tuple[Any, ...]]:
    """The ``names`` fields' values (``attname`` columns: a foreign key's id) of ``model``'s rows that meet
    ``where``, converted as the ORM converts them; in no order."""
    alias = router.db_for_read(model)
    database = connections[alias]
    sql, converters = _select_statement(alias, model, tuple(names), shape_of(where))
    with database.cursor() as cursor:
        cursor.execute(sql, condition_params(model, where, database))
        rows = cursor.fetchall()
    if not any(converters):
        return rows
    return [tuple(convert(value, converters[i], database) for i, value in enumerate(row)) for row in rows]


def instances(model: type[M], names: Sequence[str], where: Where) -> list[M]:
    """``model`` instances of the rows that meet ``where``, with only ``names`` loaded (the others deferred,
    read when first used, as with ``only()``)."""
    alias = router.db_for_read(model)
    wanted = {model._meta.get_field(name).attname for name in names}
    # ``from_db`` takes the values in the model's field order.
    fields = [field for field in model._meta.concrete_fields if field.attname in wanted]
    attnames = [field.attname for field in fields]
    rows = select(model, [field.name for field in fields], where)
    return [model.from_db(alias, attnames, row) for row in rows]


def insert(model: type[models.Model], objs: Iterable[models.Model], *, returning_pk: bool = False) -> None:
    """``bulk_create(objs)`` at a fraction of its cost: one INSERT per batch the backend allows. With
    ``returning_pk`` the database's new primary keys are set on ``objs`` (where the backend can return them;
    elsewhere ``bulk_create`` does the work)."""
    rows = list(objs)
    if not rows:
        return
    alias = router.db_for_write(model)
    database = connections[alias]
    meta = model._meta
    auto_pk = meta.pk is not None and meta.pk.db_returning
    if returning_pk and not database.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(rows)
        return
    head, row_marks, fields = _insert_statement(alias, model)
    size = database.ops.bulk_batch_size(fields, rows) or len(rows)
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        sql = head + ", ".join([row_marks] * len(batch))
        if returning_pk and auto_pk:
            sql += f" RETURNING {database.ops.quote_name(meta.pk.column)}"
        params = [
            field.get_db_prep_save(field.pre_save(obj, add=True), database)
            for obj in batch
            for field in fields
        ]
        with database.cursor() as cursor:
            cursor.execute(sql, params)
            returned = cursor.fetchall() if returning_pk and auto_pk else None
        for index, obj in enumerate(batch):
            if returned is not None:
                obj.pk = returned[index][0]
            obj._state.adding = False
            obj._state.db = alias


def update(model: type[models.Model], values: Mapping[str, Any], where: Where) -> int:
    """``filter(**where).update(**values)`` for plain values (no expressions); the rows updated."""
    alias = router.db_for_write(model)
    database = connections[alias]
    sql, fields = _update_statement(alias, model, tuple(values), shape_of(where))
    params = [field.get_db_prep_save(values[field.name], database) for field in fields]
    with database.cursor() as cursor:
        cursor.execute(sql, [*params, *condition_params(model, where, database)])
        return cursor.rowcount


def shape_of(where: Where) -> Shape:
    return tuple(
        (name, len(value) if isinstance(value, list | tuple | set | frozenset) else None)
        for name, value in where.items()
    )


def condition_params(model: type[models.Model], where: Where, database: Any) -> list[Any]:
    meta = model._meta
    params: list[Any] = []
    for name, value in where.items():
        field = meta.get_field(name)
        many = value if isinstance(value, list | tuple | set | frozenset) else (value,)
        params.extend(field.get_db_prep_value(item, database, prepared=False) for item in many)
    return params


def convert(value: Any, converters: Converters, database: Any) -> Any:
    if value is None or converters is None:
        return value
    column, functions = converters
    for function in functions:
        value = function(value, column, database)
    return value


def _where_sql(model: type[models.Model], shape: Shape, quote: Callable[[str], str]) -> str:
    meta = model._meta
    terms = []
    for name, count in shape:
        column = quote(meta.get_field(name).column)
        if count is None:
            terms.append(f"{column} = %s")
        elif count == 0:
            terms.append("1 = 0")  # IN () matches nothing
        else:
            terms.append(f"{column} IN ({', '.join(['%s'] * count)})")
    return " AND ".join(terms) if terms else "1 = 1"


@lru_cache(maxsize=1024)
def _select_statement(
    alias: str, model: type[models.Model], names: tuple[str, ...], shape: Shape
) -> tuple[str, tuple[Converters, ...]]:
    database = connections[alias]
    quote = database.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    columns = ", ".join(quote(field.column) for field in fields)
    converters: list[Converters] = []
    for field in fields:
        column = field.get_col(meta.db_table)
        found = (*database.ops.get_db_converters(column), *field.get_db_converters(database))
        converters.append((column, found) if found else None)
    # Only the model's own column names, quoted; every value is a parameter.
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {_where_sql(model, shape, quote)}"  # noqa: S608
    return sql, tuple(converters)


@lru_cache(maxsize=64)
def _insert_statement(alias: str, model: type[models.Model]) -> tuple[str, str, list[models.Field]]:
    """The INSERT's head (up to ``VALUES``), one row's placeholders and the fields they take: every
    concrete field but an auto-incremented primary key (the objects inserted have none yet)."""
    quote = connections[alias].ops.quote_name
    meta = model._meta
    auto_pk = meta.pk is not None and meta.pk.db_returning
    fields = [field for field in meta.concrete_fields if not (auto_pk and field.primary_key)]
    columns = ", ".join(quote(field.column) for field in fields)
    # Only the model's own column names, quoted; every value is a parameter.
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    return head, f"({', '.join(['%s'] * len(fields))})", fields


@lru_cache(maxsize=1024)
def _update_statement(
    alias: str, model: type[models.Model], names: tuple[str, ...], shape: Shape
) -> tuple[str, tuple[models.Field, ...]]:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    columns = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    where = _where_sql(model, shape, quote)
    # Only the model's own column names, quoted; every value is a parameter.
    return f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {where}", fields  # noqa: S608


@contextmanager
def unflushed(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """``transaction.atomic()`` whose commit does not wait for PostgreSQL to flush its write-ahead log
    (``synchronous_commit`` off for this transaction alone; SQLite in WAL mode with ``synchronous=NORMAL``
    never waits). The commit is as atomic and as visible as any; only a crash of the database server in
    the next fraction of a second can lose it, as if it had not happened.

    For the writes that are safe to lose that way: a worker's outcome of an order and the completion of its
    tasks. What they follow was committed and flushed before: the booking marks (``in_doubt_since``)
    before the create was sent. A lost outcome leaves its record queued, leased and in doubt; once the
    lease has run out it is queued again (``requeue_stuck``), and the attempt finds the invoice in the
    target. Inside another transaction, the outer one decides."""
    outermost = not connections[using].in_atomic_block
    with transaction.atomic(using=using):
        if outermost:
            commit_unflushed(using)
        yield


def commit_unflushed(using: str = DEFAULT_DB_ALIAS) -> None:
    """Within a transaction just begun: its commit will not wait for the flush (see :func:`unflushed`)."""
    database = connections[using]
    if database.vendor == "postgresql" and database.in_atomic_block:
        with database.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
