"""Django's PostgreSQL backend, with parameters bound by the server and the statements of registry_site/prepared.py
prepared there.

Django binds parameters on the client by default: every statement reaches PostgreSQL as new text, which it parses
and plans again. With `server_side_binding` (settings: DATABASE_PREPARED, on by default) psycopg sends the SQL and
its parameters apart, and the fixed lookups every request makes (`Prepared` queries: a key, a user's roles, the
version or registered model named, the links of a version) are prepared on the server the first time a connection
runs them: PostgreSQL then parses them once, and after five calls keeps one generic plan when it costs no more than
planning each call (a lookup by key: the link's eight-table join no longer costs a millisecond of planning per
request). No other statement run with execute() is prepared (psycopg's executemany prepares its statement, which
Django uses for none of the app's queries): the queries of the pages and lists are planned for each call's values,
as unprepared statements are, since one plan made for a typical value can be slow for another (the versions of a
model with 100,000 links, read by the plan made for models with ten, sorted every link).

The protocol carries at most 65,535 parameters per statement. Django 5.2 knows that limit only from 6.0 on (Django
ticket #36822), so this backend declares it and batches bulk writes to fit, as Django's SQLite backend does; and a
statement with more parameters still (a long `__in` list, a manifest's tens of thousands of paths) is bound on the
client instead, as Django binds every statement without server-side binding.
"""

from itertools import chain

import psycopg
from django.db import models
from django.db.backends.postgresql import base, features, operations

MAX_PARAMETERS = 2**16 - 1


# The SQL of every `Prepared` query compiled for PostgreSQL in this process (DatabaseWrapper.prepare_on_server).
_ON_SERVER: set[str] = set()


class ServerBindingCursor(base.ServerBindingCursor):
    """Parameters bound by the server, unless there are more than the protocol carries; prepared on the server
    when the statement is a `Prepared` query's, never otherwise."""

    def execute(self, query, params=None, **kwargs):
        if params is not None and len(params) > MAX_PARAMETERS:
            query, params = psycopg.ClientCursor(self.connection).mogrify(query, params), None
            kwargs["prepare"] = False
        # (A psycopg sql.Composed, which Django's callproc passes, is never a Prepared query's.)
        kwargs.setdefault("prepare", isinstance(query, str) and query in _ON_SERVER)
        return super().execute(query, params, **kwargs)


class DatabaseFeatures(features.DatabaseFeatures):
    @property
    def max_query_params(self) -> int | None:
        return MAX_PARAMETERS if self.connection.settings_dict["OPTIONS"].get("server_side_binding") else None


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs) -> int:
        limit = self.connection.features.max_query_params
        fields = list(
            chain.from_iterable(f.fields if isinstance(f, models.CompositePrimaryKey) else [f] for f in fields)
        )
        if limit is None or not fields:
            return len(objs)
        return max(limit // len(fields), 1)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations

    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.ServerBindingCursor:
            params["cursor_factory"] = ServerBindingCursor
        return params

    def prepare_on_server(self, sql: str) -> None:
        """Have `sql` prepared on the server whenever a connection runs it (registry_site/prepared.py)."""
        _ON_SERVER.add(sql)
