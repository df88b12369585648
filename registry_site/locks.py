"""Row locks granted in the order they were asked for, on PostgreSQL as on SQLite.

The rows that number versions (an artifact's, a registered model's) are locked with SELECT ... FOR UPDATE by every
caller that commits or links into them. PostgreSQL does not grant a contended row lock in order: when the holder
commits, the waiter it wakes must first fetch the row's new version, and a transaction that asks just then takes
the row before it. Under load (16 clients linking into one registered model) a few callers were overtaken again
and again and waited several times as long as the rest. `lock_in_order` first takes a transaction-scoped advisory
lock on the same row: PostgreSQL's lock manager queues its waiters and puts a newcomer behind them, so callers get
the row in the order they asked, and the row lock that follows is free by then. Both end with the transaction.

SQLite needs none: its writers queue for the database already (registry_site/sqlite/base.py). The advisory key
is the table's (a CRC-32 of its name) and the row's primary key, modulo 2**31: two rows sharing a key only wait
for each other.
"""

import zlib

from django.db import connections, router
from django.db.models import Model


def advisory_key(model: type[Model], pk: int) -> tuple[int, int]:
    """The two 32-bit keys of `model`'s row `pk` (pg_advisory_xact_lock(int4, int4))."""
    return zlib.crc32(model._meta.db_table.encode()) & 0x7FFFFFFF, pk % 2**31


def lock_in_order(model: type[Model], pk: int) -> None:
    """Wait in line for `model`'s row `pk`, before locking it in this transaction (PostgreSQL; a no-op elsewhere)."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", advisory_key(model, pk))
