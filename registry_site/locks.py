"""Row locks granted in the order they were asked for, on PostgreSQL as on SQLite.

A registered model's row, which numbers its versions, is locked with SELECT ... FOR UPDATE by every caller that
links into it (registry.services._lock_model). PostgreSQL does not grant a contended row lock in order: when the holder
commits, the waiter it wakes must first fetch the row's new version, and a transaction that asks just then takes
the row before it. Under load (16 clients linking into one registered model) a few callers were overtaken again
and again and waited several times as long as the rest. `lock_in_order` there first takes a transaction-scoped
advisory lock on the same row, in the same statement: PostgreSQL's lock manager queues its waiters and puts a
newcomer behind them, so callers get the row in the order they asked, and the row lock that follows is free by
then. Both end with the transaction. (The statement's snapshot predates its wait, but FOR UPDATE, and UPDATE, act
on the row's latest committed version, as they do after any wait.) A new registry link, the common case, takes the
lock and its index in one UPDATE (`take_index_in_order`): one statement fewer while the row is held.

Every writer of such a row must wait in line before it locks the row in any other way: a transaction holding the
row lock that then asks for the advisory lock waits behind a caller who waits for the row, a deadlock (PostgreSQL
ends it after a second by failing one). An artifact's row, which several paths lock first by name, keeps a plain
lock for that reason.

SQLite needs none: its writers queue for the database already (registry_site/sqlite/base.py). The advisory key
is the table's (a CRC-32 of its name) and the row's primary key, modulo 2**31: two rows sharing a key only wait
for each other.
"""

import zlib
from collections.abc import Callable
from datetime import datetime

from django.db import connections, router
from django.db.models import Model
from django.db.transaction import TransactionManagementError


def advisory_key(model: type[Model], pk: int) -> tuple[int, int]:
    """The two 32-bit keys of `model`'s row `pk` (pg_advisory_xact_lock(int4, int4))."""
    return zlib.crc32(model._meta.db_table.encode()) & 0x7FFFFFFF, pk % 2**31


def lock_in_order(model: type[Model], pk: int, field: str, locked_read: Callable[[int], list]) -> list:
    """Lock `model`'s row `pk` until the transaction ends, after the callers that asked first; [its `field`], or []
    when there is no such row. `locked_read(pk)` reads it FOR UPDATE where the database grants locks in order."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return locked_read(pk)
    if connection.get_autocommit():
        # As the ORM refuses select_for_update there: the lock would be let go at once.
        raise TransactionManagementError("A row is locked in order only inside a transaction.")
    sql = _statement(connection, model, "lock", field)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*advisory_key(model, pk), pk])
        return [value for (value,) in cursor.fetchall()]


def take_index_in_order(model: type[Model], pk: int, now: datetime) -> int | None:
    """Lock `model`'s row `pk` as lock_in_order does and hand out its next version index in the same statement:
    `next_index` and `num_versions` go up by one and `updated_at` is `now`. The index, or None when there is no
    such row."""
    connection = connections[router.db_for_write(model)]
    if connection.get_autocommit():
        raise TransactionManagementError("A row is locked in order only inside a transaction.")
    stamp = connection.ops.adapt_datetimefield_value(now)
    params = [stamp, *advisory_key(model, pk), pk] if connection.vendor == "postgresql" else [stamp, pk]
    sql = _statement(connection, model, "take")
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        else:
            # SQLite before 3.35 has no RETURNING: the same write, then a read (SQLite's writer holds the database).
            update, _, returning = sql.rpartition(" RETURNING ")
            cursor.execute(update, params)
            meta = model._meta
            cursor.execute(
                f"SELECT {returning} FROM {connection.ops.quote_name(meta.db_table)} WHERE "
                f"{connection.ops.quote_name(meta.pk.column)} = %s",
                [pk],
            )
            row = cursor.fetchone()
    return None if row is None else row[0]


_statements: dict[tuple, str] = {}


def _statement(connection, model: type[Model], kind: str, field: str = "") -> str:
    """The SQL of `kind` ("lock" a row reading `field`, PostgreSQL; "take" an index), made once per database."""
    cache_key = (connection.alias, connection.vendor, model, kind, field)
    if (sql := _statements.get(cache_key)) is None:
        quote, meta = connection.ops.quote_name, model._meta
        table, key = quote(meta.db_table), quote(meta.pk.column)
        if kind == "lock":
            sql = (
                f"SELECT t.{quote(meta.get_field(field).column)} FROM {table} AS t, "
                f"(SELECT pg_advisory_xact_lock(%s, %s)) AS queue WHERE t.{key} = %s FOR UPDATE OF t"
            )
        else:
            index, count, stamp = (
                quote(meta.get_field(name).column) for name in ("next_index", "num_versions", "updated_at")
            )
            queue = " FROM (SELECT pg_advisory_xact_lock(%s, %s)) AS queue" if connection.vendor == "postgresql" else ""
            sql = (
                f"UPDATE {table} SET {index} = {index} + 1, {count} = {count} + 1, {stamp} = %s{queue} "
                f"WHERE {table}.{key} = %s RETURNING {index} - 1"
            )
        _statements[cache_key] = sql
        if prepare_on_server := getattr(connection, "prepare_on_server", None):
            # PostgreSQL (registry_site/postgresql/): run on every link, so prepared there.
            prepare_on_server(sql)
    return sql
