"""Guess what each blob in a restore-as-files container is, from its name alone.

The vault's blob naming is UNCONFIRMED (azure-facts §6): the docs mention ``Database.sql``
per database, ``Roles.sql``, ``Schema.sql`` and ``Tablespace.sql``, but no real listing was
ever seen. So this module accepts many shapes, case-insensitively:

* database files: ``{prefix}_database_{db}.sql``, ``database_{db}.sql``,
  ``{db}_database.sql``, ``<uuid>_{db}_database.sql``, ``<uuid>_{db}.sql``, ``{db}.sql``
  (also ``.dump``/``.pgdump``/``.backup``/``.tar`` and ``.gz``), and ``Database.sql`` whose
  database is named by its virtual folder (``{db}/Database.sql``);
* directory-format dumps: ``.../toc.dat`` and ``.../1234.dat(.gz)`` members grouped by
  folder, the database named by the folder (same patterns as a file stem);
* ``*roles*.sql``/``globals.sql``, ``*schema*.sql``, ``*tablespace*.sql``;
* markers/metadata: ``_SUCCESS``, ``*.done``, ``*.json``, ``*.log``, ``*.txt``, ...;
* anything else is ``unknown``.

The result is a **hint**. After download the postgres layer inspects the bytes (``PGDMP``,
``ustar``, ``toc.dat``, plain SQL) and that content check decides; the UI shows a hint that
the content check contradicts as a warning. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "UNNAMED_DATABASE",
    "BlobHint",
    "BlobRole",
    "DirectoryDump",
    "RestoreLayout",
    "classify_blob",
    "classify_layout",
]

UNNAMED_DATABASE = ""
"""Key used in ``RestoreLayout.databases`` when no database name can be read from the name."""


class BlobRole(StrEnum):
    """What a blob most likely holds, judged by its name."""

    DATABASE = "database"
    ROLES = "roles"
    SCHEMA = "schema"
    TABLESPACE = "tablespace"
    MARKER = "marker"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BlobHint:
    """The name-based guess for one blob.

    ``directory`` is the folder of a directory-format dump this blob belongs to (its
    ``toc.dat`` sits there), else None.
    """

    name: str
    role: BlobRole
    database: str | None = None
    directory: str | None = None


@dataclass(frozen=True)
class DirectoryDump:
    """The members of one directory-format dump (``pg_dump -Fd``), grouped by folder."""

    folder: str
    database: str
    members: tuple[str, ...]

    @property
    def has_toc(self) -> bool:
        """True when ``toc.dat`` is among the members (without it pg_restore cannot run)."""
        return any(_basename(m).lower() == "toc.dat" for m in self.members)


@dataclass(frozen=True)
class RestoreLayout:
    """All blobs of a container, sorted by guessed role.

    ``databases`` maps a database name (``UNNAMED_DATABASE`` when unknown) to its blobs: one
    file for a custom/plain dump, all members for a directory dump (``toc.dat`` first).
    """

    databases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()
    tablespaces: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    directory_dumps: tuple[DirectoryDump, ...] = ()

    @property
    def database_names(self) -> tuple[str, ...]:
        """Named databases, sorted (``UNNAMED_DATABASE`` left out)."""
        return tuple(sorted(n for n in self.databases if n != UNNAMED_DATABASE))


_DUMP_EXT = re.compile(
    r"\.(?:sql|dump|pgdump|backup|bak|custom|tar|fc)(?:\.(?:gz|zst|lz4|bz2))?$", re.IGNORECASE
)
_DIR_MEMBER = re.compile(
    r"^(?:toc\.dat|\d+\.dat(?:\.(?:gz|zst|lz4))?|blob_\d+\.(?:dat|toc)(?:\.gz)?|blobs(?:_\d+)?\.toc)$",
    re.IGNORECASE,
)
_MARKER = re.compile(
    r"(?:^_success$|^_completed?$|^\.?done$|\.(?:done|complete|completed|success|marker|lock|"
    r"json|log|txt|md5|sha256|manifest|metadata)$|^manifest$|^metadata$)",
    re.IGNORECASE,
)
# A leading machine prefix: a GUID (with or without dashes), a long hex id, or a timestamp.
_MACHINE_PREFIX = re.compile(
    r"^(?:[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|[0-9a-f]{16,}|"
    r"\d{8}(?:T?\d{4,6}Z?)?|\d{10,})[_.-]",
    re.IGNORECASE,
)
_PREFIX_DATABASE_DB = re.compile(r"^(?:.*?_)?database_(?P<db>.+)$", re.IGNORECASE)
_DB_DATABASE = re.compile(r"^(?P<db>.+?)_database$", re.IGNORECASE)
_GENERIC_STEMS = frozenset({"database", "db", "dump", "data", "backup", "pgdump"})
_WORD = r"(?:^|[_.\- ])"
_END = r"(?:$|[_.\- ])"
_ROLES = re.compile(rf"{_WORD}(?:roles?|globals)s?{_END}", re.IGNORECASE)
_SCHEMA = re.compile(rf"{_WORD}schemas?{_END}", re.IGNORECASE)
_TABLESPACE = re.compile(rf"{_WORD}tablespaces?{_END}", re.IGNORECASE)


def _basename(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def _folder(name: str) -> str:
    parts = name.rstrip("/").rsplit("/", 1)
    return parts[0] if len(parts) == 2 else ""


def _strip_machine_prefix(stem: str) -> str:
    while True:
        m = _MACHINE_PREFIX.match(stem)
        if not m or m.end() >= len(stem):
            return stem
        stem = stem[m.end() :]


def _database_from_stem(stem: str) -> str | None:
    """A database name read from a file stem or folder name, or None if it is generic."""
    stem = _strip_machine_prefix(stem)
    m = _PREFIX_DATABASE_DB.match(stem)
    if m:
        return m.group("db")
    m = _DB_DATABASE.match(stem)
    if m:
        return _strip_machine_prefix(m.group("db"))
    if stem.lower() in _GENERIC_STEMS:
        return None
    return stem or None


def _database_from_folder(folder: str) -> str | None:
    if not folder:
        return None
    leaf = _basename(folder)
    leaf = _DUMP_EXT.sub("", leaf)
    leaf = re.sub(r"\.(?:dir|d)$", "", leaf, flags=re.IGNORECASE)
    return _database_from_stem(leaf)


def _is_special(stem: str, pattern: re.Pattern[str]) -> bool:
    """Roles/schema/tablespace words, unless the name is explicitly a database file."""
    bare = _strip_machine_prefix(stem)
    if _PREFIX_DATABASE_DB.match(bare) or _DB_DATABASE.match(bare):
        return False
    return pattern.search(bare) is not None


def classify_blob(name: str) -> BlobHint:
    """Guess the role (and database) of one blob from its name."""
    base = _basename(name)
    folder = _folder(name)
    if _DIR_MEMBER.match(base):
        db = _database_from_folder(folder)
        return BlobHint(name, BlobRole.DATABASE, db if db is not None else UNNAMED_DATABASE, folder)
    if _MARKER.search(base):
        return BlobHint(name, BlobRole.MARKER)
    ext = _DUMP_EXT.search(base)
    if ext is None:
        return BlobHint(name, BlobRole.UNKNOWN)
    stem = base[: ext.start()]
    if _is_special(stem, _ROLES):
        return BlobHint(name, BlobRole.ROLES)
    if _is_special(stem, _TABLESPACE):
        return BlobHint(name, BlobRole.TABLESPACE)
    if _is_special(stem, _SCHEMA):
        return BlobHint(name, BlobRole.SCHEMA)
    db = _database_from_stem(stem)
    if db is None:
        db = _database_from_folder(folder)
    return BlobHint(name, BlobRole.DATABASE, db if db is not None else UNNAMED_DATABASE)


def _dir_sort_key(name: str) -> tuple[int, str]:
    return (0 if _basename(name).lower() == "toc.dat" else 1, name)


def classify_layout(names: Iterable[str]) -> RestoreLayout:
    """Sort a container listing into databases, roles, schemas, tablespaces and markers."""
    databases: dict[str, list[str]] = {}
    buckets: dict[BlobRole, list[str]] = {role: [] for role in BlobRole}
    dirs: dict[str, list[str]] = {}
    dir_db: dict[str, str] = {}
    for name in names:
        if not name or name.endswith("/"):
            continue
        hint = classify_blob(name)
        if hint.role is BlobRole.DATABASE:
            db = hint.database if hint.database is not None else UNNAMED_DATABASE
            databases.setdefault(db, []).append(name)
            if hint.directory is not None:
                dirs.setdefault(hint.directory, []).append(name)
                dir_db[hint.directory] = db
        else:
            buckets[hint.role].append(name)
    dumps = tuple(
        DirectoryDump(folder, dir_db[folder], tuple(sorted(members, key=_dir_sort_key)))
        for folder, members in sorted(dirs.items())
    )
    return RestoreLayout(
        databases={
            db: tuple(sorted(blobs, key=_dir_sort_key)) for db, blobs in sorted(databases.items())
        },
        roles=tuple(sorted(buckets[BlobRole.ROLES])),
        schemas=tuple(sorted(buckets[BlobRole.SCHEMA])),
        tablespaces=tuple(sorted(buckets[BlobRole.TABLESPACE])),
        markers=tuple(sorted(buckets[BlobRole.MARKER])),
        unknown=tuple(sorted(buckets[BlobRole.UNKNOWN])),
        directory_dumps=dumps,
    )
