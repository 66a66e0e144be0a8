"""How to connect to a restored server: the values a DBA copies into psql or pgAdmin.

A :class:`ServerConnection` never holds the password. It names the keyring entry the
password is kept under, and whether this app generated it (a server the restore created).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["ServerConnection", "pgadmin_servers_json"]


def _libpq_value(value: str) -> str:
    """A libpq conninfo value, quoted when it needs to be (spaces, quotes, backslashes)."""
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class ServerConnection:
    """Where the restored databases are, and who the admin is."""

    host: str
    port: int
    user: str
    dbname: str = "postgres"
    sslmode: str = ""
    server_name: str = ""
    server_id: str = ""
    password_entry: str = ""  # keyring entry ("" = the app does not hold the password)
    password_generated: bool = False  # True: this app made the password (new server)

    def libpq(self, dbname: str | None = None) -> str:
        """``host=… port=… dbname=… user=… sslmode=…`` (no password)."""
        parts = [
            ("host", self.host),
            ("port", str(self.port)),
            ("dbname", dbname or self.dbname),
            ("user", self.user),
        ]
        if self.sslmode:
            parts.append(("sslmode", self.sslmode))
        return " ".join(f"{k}={_libpq_value(v)}" for k, v in parts)

    def uri(self, dbname: str | None = None) -> str:
        """``postgresql://user@host:port/db?sslmode=…`` (no password)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        db = quote(dbname or self.dbname, safe="")
        query = f"?sslmode={quote(self.sslmode)}" if self.sslmode else ""
        return f"postgresql://{quote(self.user, safe='')}@{host}:{self.port}/{db}{query}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ServerConnection | None:
        """The value written by :meth:`to_json` (None when absent or malformed)."""
        if not isinstance(data, dict) or not data.get("host"):
            return None
        try:
            return cls(
                host=str(data["host"]),
                port=int(data.get("port") or 5432),
                user=str(data.get("user") or ""),
                dbname=str(data.get("dbname") or "postgres"),
                sslmode=str(data.get("sslmode") or ""),
                server_name=str(data.get("server_name") or ""),
                server_id=str(data.get("server_id") or ""),
                password_entry=str(data.get("password_entry") or ""),
                password_generated=bool(data.get("password_generated", False)),
            )
        except (TypeError, ValueError):
            return None


def pgadmin_servers_json(conn: ServerConnection, *, group: str = "Restored") -> str:
    """pgAdmin 4's "Import/Export Servers" file for ``conn`` (no password in it)."""
    server: dict[str, Any] = {
        "Name": conn.server_name or conn.host,
        "Group": group,
        "Host": conn.host,
        "Port": conn.port,
        "MaintenanceDB": conn.dbname,
        "Username": conn.user,
        "ConnectionParameters": {"sslmode": conn.sslmode or "prefer", "connect_timeout": 10},
    }
    return json.dumps({"Servers": {"1": server}}, indent=2)
