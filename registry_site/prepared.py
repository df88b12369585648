"""Queries read on every request, built and compiled once instead of on each call.

Django builds a query from its filters and compiles it to SQL each time it runs: for the short lookups that
every API request makes (its key, the user's roles, the version it names), that costs three times what the
database does. A `Prepared` query is built once with placeholder arguments and compiled once per database;
each call runs that SQL with the real arguments through Django's own iterables (the same model instances,
select_related objects, values_list tuples and prefetching as the queryset would give).

Only exact lookups suit it: each argument must reach the SQL as one parameter, unchanged (a `None`, which
would make `IS NULL`, is run through the ORM instead; an integer no 64-bit column holds matches nothing).
"""

import itertools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError

M = TypeVar("M")

_markers = itertools.count(1)
# Bits of the integer types psycopg passes for sized integer columns.
_BITS = {"Int2": 16, "Int4": 32, "Int8": 64}


class Prepared(Generic[M]):
    """`build(*args)` -> QuerySet, prepared for arguments of `types` (int or str); call it for the rows."""

    def __init__(self, build: Callable[..., "QuerySet[Any]"], *types: type) -> None:
        if not types or any(t not in (int, str) for t in types):
            raise TypeError("Prepared arguments are int or str.")
        self.build, self.types = build, types
        self._alias: str | None = None
        self._plans: dict[tuple[str, str], tuple[QuerySet, str, tuple, list[list[int]], dict]] = {}

    def _markers(self) -> list[int | str]:
        # Stand-ins for the arguments, found again by type and value among the compiled parameters. Integers are
        # kept within a 32-bit column's range (the ORM answers nothing for a value beyond it, without SQL).
        return [
            1_000_000_000 + next(_markers) % 1_000_000_000 if t is int else f"\x00prepared-{next(_markers)}\x00"
            for t in self.types
        ]

    def _compile(self, connection: Any) -> tuple[QuerySet, Any, str, list, list[list[int]]]:
        markers = self._markers()
        queryset = self.build(*markers)
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            raise ValueError(f"Cannot prepare {queryset.query}: it answers nothing for some values.") from None
        # An integer may reach the parameters as a subclass naming its column's size (psycopg's Int4 for an
        # IntegerField on PostgreSQL): each call's argument is given the same type.
        slots = [[i for i, p in enumerate(params) if isinstance(p, type(m)) and p == m] for m in markers]
        return queryset, compiler, sql, list(params), slots

    def _plan(self, connection: Any) -> tuple[QuerySet, str, tuple, list[list[int]], dict]:
        queryset, compiler, sql, params, slots = self._compile(connection)
        # Compiled again with other stand-ins: the same SQL with the arguments in the same places, and every other
        # parameter the same, or the query depends on its arguments' values (or a constant looked like one).
        _, _, other_sql, other_params, other_slots = self._compile(connection)
        fixed = {i for where in slots for i in where}
        if (
            not all(slots)
            or (sql, slots) != (other_sql, other_slots)
            or [p for i, p in enumerate(params) if i not in fixed]
            != [p for i, p in enumerate(other_params) if i not in fixed]
        ):
            raise ValueError(f"Cannot prepare {queryset.query}: an argument does not reach the SQL unchanged.")
        # What compiling left on the compiler (the selected columns, the related objects' layout...), which
        # turning rows into results reads.
        state = {k: v for k, v in vars(compiler).items() if k not in ("query", "connection", "using")}
        plan = (queryset, sql, tuple(params), slots, state)
        if prepare_on_server := getattr(connection, "prepare_on_server", None):
            # PostgreSQL with server-side binding: parsed once per connection, planned once when that is as good.
            prepare_on_server(sql)
        self._plans[connection.alias, connection.vendor] = plan
        return plan

    def __call__(self, *args: int | str | None) -> list[M]:
        """The rows for `args`, as the built queryset would give them."""
        if len(args) != len(self.types):
            raise TypeError(f"Expected {len(self.types)} arguments, got {len(args)}.")
        if any(a is None for a in args):
            return list(self.build(*args))
        args = tuple(t(a) for t, a in zip(self.types, args, strict=True))
        if any(type(a) is int and not -(2**63) <= a < 2**63 for a in args):
            return []  # No 64-bit column holds it, and the driver would refuse it (as the ORM answers nothing).
        if self._alias is None:
            query = self.build(*self._markers()).query
            route = router.db_for_write if query.select_for_update else router.db_for_read
            self._alias = route(query.model)
        alias = self._alias
        connection = connections[alias]
        queryset, sql, params, slots, state = self._plans.get((alias, connection.vendor)) or self._plan(connection)
        features = connection.features
        if (
            queryset.query.select_for_update
            and features.has_select_for_update
            and features.supports_transactions
            and connection.get_autocommit()
        ):
            # The check compiling makes, kept: a lock taken outside a transaction would be let go at once.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        values = list(params)
        for arg, where in zip(args, slots, strict=True):
            for i in where:
                values[i] = _like(params[i], arg)
                if values[i] is None:
                    return []  # Beyond the column's size: the ORM answers nothing, without SQL.
        run = queryset._chain()
        compiler = run.query.get_compiler(connection=connection)
        vars(compiler).update(state)
        compiler.as_sql = lambda *a, **k: (sql, values)
        # The functions that turn each column's value into Python (dates, booleans, JSON...), which Django looks up
        # column by column on every run: kept on the connection, since the database's are methods of it (and go
        # with it).
        kept = connection.__dict__.setdefault("_prepared_converters", {})
        converters = kept.get(self)
        if converters is None:
            columns = [column for column, *_ in compiler.select[: compiler.col_count]]
            converters = kept[self] = compiler.get_converters(columns)
        compiler.get_converters = lambda expressions: converters
        # Only this private copy of the query answers with the prepared compiler; it never leaves this call.
        run.query.get_compiler = lambda *a, **k: compiler
        return list(run)


def _like(marker: int | str, arg: int | str) -> int | str | None:
    """`arg` as the type compiling gave its stand-in; None for an integer its column cannot hold."""
    kind = type(marker)
    if kind is type(arg) or not isinstance(marker, int):
        return arg
    bits = _BITS.get(kind.__name__, 64)
    return kind(arg) if -(2 ** (bits - 1)) <= arg < 2 ** (bits - 1) else None


def first(prepared: "Prepared[M]", *args: int | str | None) -> M | None:
    rows = prepared(*args)
    return rows[0] if rows else None
