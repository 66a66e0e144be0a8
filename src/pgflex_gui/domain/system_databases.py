"""Which databases of a restore-as-files container are the server's own, and what to do.

A real restore-as-files run writes database files for ``azure_maintenance``, ``azure_sys``,
``postgres`` and ``template1`` beside the user databases (azure-facts §6, the hmcts write-up
of a real run). Restoring them blindly puts objects into ``template1`` (every database
created later inherits them) and into databases that belong to the service on a flexible
server. So:

* ``template0``, ``template1``, ``azure_maintenance`` and ``azure_sys`` are never restored;
* ``postgres`` is restored only when the user asks for it, and then into a new database the
  user names (default :data:`DEFAULT_POSTGRES_TARGET`), never into the target's
  ``postgres``.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ALWAYS_SKIPPED",
    "DEFAULT_POSTGRES_TARGET",
    "POSTGRES_DB",
    "SystemDatabaseDecision",
    "decide_database",
    "postgres_target_problem",
    "user_object_count",
]

POSTGRES_DB = "postgres"
DEFAULT_POSTGRES_TARGET = "postgres_restored"

ALWAYS_SKIPPED: dict[str, str] = {
    "template0": "the server's pristine template; it is never dumped or restored",
    "template1": (
        "the server's template; objects restored into it would appear in every database "
        "created later"
    ),
    "azure_maintenance": "it belongs to the Azure service on a flexible server",
    "azure_sys": "it belongs to the Azure service on a flexible server (query store data)",
}

# TOC entries that are the database's own furniture, not something a user made.
_NOT_USER_DESCS = frozenset(
    {
        "ENCODING",
        "STDSTRINGS",
        "SEARCHPATH",
        "DATABASE",
        "DATABASE PROPERTIES",
        "COMMENT",
        "ACL",
        "DEFAULT ACL",
        "EXTENSION",
        "PROCEDURAL LANGUAGE",
    }
)
_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema"})


@dataclass(frozen=True)
class SystemDatabaseDecision:
    """What happens to one database found in the container.

    ``target`` is the database it is restored into (None when skipped); ``reason`` says why
    it is skipped or renamed ("" for an ordinary user database restored under its name).
    """

    source: str
    target: str | None
    reason: str = ""

    @property
    def skipped(self) -> bool:
        """True when this database is not restored."""
        return self.target is None

    @property
    def renamed(self) -> bool:
        """True when it is restored under another name."""
        return self.target is not None and self.target != self.source

    @property
    def line(self) -> str:
        """One sentence for the plan, the wizard and the report."""
        if self.skipped:
            return f"{self.source} is not restored: {self.reason}."
        if self.renamed:
            return f"{self.source} is restored into a new database {self.target}: {self.reason}."
        return f"{self.source} is restored."


def postgres_target_problem(name: str, *, existing: Iterable[str] = ()) -> str:
    """Why ``name`` can't hold the restored ``postgres`` database ("" when it can)."""
    clean = name.strip()
    if not clean:
        return "Name the new database that receives the restored postgres database."
    if clean.lower() == POSTGRES_DB or clean.lower() in ALWAYS_SKIPPED:
        return f"{clean} is a system database; choose a new name such as {DEFAULT_POSTGRES_TARGET}."
    if len(clean.encode()) > 63:
        return f"{clean} is longer than PostgreSQL's 63-byte limit for names."
    if clean in set(existing):
        return f"{clean} is also a database in the restored files; choose another name."
    return ""


def decide_database(name: str, *, postgres_as: str = "") -> SystemDatabaseDecision:
    """The decision for database ``name``; ``postgres_as`` is the new name the user chose."""
    if name in ALWAYS_SKIPPED:
        return SystemDatabaseDecision(name, None, ALWAYS_SKIPPED[name])
    if name == POSTGRES_DB:
        target = postgres_as.strip()
        if not target:
            return SystemDatabaseDecision(
                name,
                None,
                "the target's own postgres database is never overwritten; ask for it to be "
                f"restored into a new database (for example {DEFAULT_POSTGRES_TARGET})",
            )
        problem = postgres_target_problem(target)
        if problem:
            return SystemDatabaseDecision(name, None, problem.rstrip("."))
        return SystemDatabaseDecision(
            name, target, "restored on request, never into the target's own postgres"
        )
    return SystemDatabaseDecision(name, name)


def user_object_count(entries: Iterable[tuple[str, str, str]]) -> int:
    """How many (desc, schema, name) TOC entries are objects a user made (tables, views, ...).

    The ``public`` schema itself, table data and catalog furniture do not count.
    """
    count = 0
    for desc, schema, name in entries:
        if desc in _NOT_USER_DESCS or schema in _SYSTEM_SCHEMAS:
            continue
        if desc == "SCHEMA" and name == "public":
            continue
        if desc.endswith(" DATA") or desc in {"SEQUENCE SET", "SEQUENCE OWNED BY"}:
            continue
        count += 1
    return count
