"""Providers for PostgreSQL databases and users: run the SQL from pg_sql.py through PgSession."""

from __future__ import annotations

from typing import Any


from quayform.changes import Action, Change
from quayform.errors import EngineError
from quayform.resources.base import ProviderBase
from quayform.resources.pg_forms import DATABASE_FIELDS, USER_FIELDS
from quayform.resources.pg_sql import drop_database, drop_user, ensure_database, ensure_extensions, ensure_user
from quayform.resources.postgres import PgSession, ServerRef

SERVER_TIMEOUT = 120.0


class _PgProvider(ProviderBase):
    def session(self, change: Change) -> PgSession:
        server: ServerRef | None = (change.after or change.before or {}).get("_server")
        if server is None:
            raise EngineError(f"{change.address}: its PostgreSQL server is unknown")
        session = PgSession(self.api, server)
        session.wait_ready(SERVER_TIMEOUT)
        return session


class DatabaseProvider(_PgProvider):
    kind = "databases"
    fields = DATABASE_FIELDS

    def create(self, change: Change) -> None:
        session = self.session(change)
        desired: dict[str, Any] = change.after or {}
        session.run(ensure_database(desired))
        if desired["extensions"]:
            session.run(ensure_extensions(desired))

    update = create

    def delete(self, change: Change) -> None:
        """Only reached from `destroy --databases`: plans never drop a database otherwise."""
        session = self.session(change)
        session.run(drop_database((change.before or {})["name"]))


class UserProvider(_PgProvider):
    kind = "users"
    fields = USER_FIELDS

    def create(self, change: Change) -> None:
        live_grants = (change.before or {}).get("grants") if change.action is Action.UPDATE else None
        self.session(change).run(ensure_user(change.after or {}, live_grants))

    update = create

    def delete(self, change: Change) -> None:
        before = change.before or {}
        self.session(change).run(drop_user(before["name"], sorted(before.get("_databases", []))))
