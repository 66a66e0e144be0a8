"""Tell restored backup files apart by content, read archive headers and tables of contents.

Azure names every file ``.sql`` whatever its format (fact sheet, section 6), so nothing
here trusts a file name. The archive header is read in pure Python (to pick a pg_restore
before running anything); ``pg_restore --list`` gives the rest.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pgflex_gui.postgres.outcome import ProcessOutcome, collect_errors, raise_for_outcome
from pgflex_gui.postgres.tools import PgTool

__all__ = [
    "ArchiveHeader",
    "DumpInfo",
    "DumpKind",
    "Toc",
    "TocEntry",
    "classify",
    "classify_bytes",
    "min_restore_major",
    "parse_archive_header",
    "parse_toc_listing",
    "plain_sql_extensions",
    "preload_libraries_for",
    "read_archive_header",
    "table_of_contents",
]

MAGIC = b"PGDMP"
_SNIFF = 64 * 1024
_SCAN_LIMIT = 8 * 1024 * 1024


class DumpKind(StrEnum):
    CUSTOM = "custom"  # pg_dump -Fc: pg_restore, -j allowed
    TAR = "tar"  # pg_dump -Ft: pg_restore, no -j
    DIRECTORY = "directory"  # pg_dump -Fd: pg_restore -j
    PLAIN_SQL = "plain"  # one database as SQL: psql -f
    ROLES = "roles"  # pg_dumpall --roles-only: clean with roles.py, then psql
    SCHEMAS = "schemas"  # pg_dumpall --schema-only: do not run (Schema.sql)
    TABLESPACES = "tablespaces"  # pg_dumpall --tablespaces-only: skip on flex
    EMPTY = "empty"  # zero bytes / whitespace: a marker
    UNKNOWN = "unknown"

    @property
    def is_archive(self) -> bool:
        return self in (DumpKind.CUSTOM, DumpKind.TAR, DumpKind.DIRECTORY)

    @property
    def pg_restore_format(self) -> str | None:
        """The ``-F`` letter for pg_restore."""
        return {DumpKind.CUSTOM: "c", DumpKind.TAR: "t", DumpKind.DIRECTORY: "d"}.get(self)


# The archive format byte (pg_backup.h ArchiveFormat).
_FORMATS = {0: "unknown", 1: "custom", 2: "files", 3: "tar", 4: "null", 5: "directory"}
# pg_compress.h pg_compress_algorithm (archive 1.15+).
_COMPRESSION = {0: "none", 1: "gzip", 2: "lz4", 3: "zstd"}
# Archive version -> first pg_dump major writing it (recipes: 15 writes 1.14,
# 16 writes 1.15, 17 and 18 write 1.16); pg_restore N reads up to what N writes.
_FIRST_MAJOR = {(1, 16): 17, (1, 15): 16, (1, 14): 12, (1, 13): 11, (1, 12): 9}


def min_restore_major(version: tuple[int, int]) -> int:
    """The oldest pg_restore major that reads archive ``version`` (major, minor)."""
    if version in _FIRST_MAJOR:
        return _FIRST_MAJOR[version]
    newest = max(_FIRST_MAJOR)
    if version > newest:  # a future format: assume the major after 18 writes it
        return _FIRST_MAJOR[newest] + 2 + max(0, version[1] - newest[1] - 1)
    return 9


@dataclass(frozen=True)
class ArchiveHeader:
    """The fixed header at the start of a custom archive (or a tar/dir ``toc.dat``)."""

    version: tuple[int, int, int]
    int_size: int
    off_size: int
    format: str
    compression: str
    created: datetime | None = None
    dbname: str | None = None
    server_version: str | None = None  # "Dumped from database version"
    dump_version: str | None = None  # "Dumped by pg_dump version"

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def min_restore_major(self) -> int:
        return min_restore_major(self.version[:2])

    @property
    def dump_major(self) -> int | None:
        match = re.match(r"(\d+)", self.dump_version or "")
        return int(match.group(1)) if match else None

    def made_by(self) -> str:
        """For messages: "made by pg_dump 17, archive format 1.16"."""
        major = self.dump_major
        who = f"made by pg_dump {major}, " if major else ""
        return f"{who}archive format {self.version_text}"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("archive header is truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def int_(self, size: int) -> int:
        sign = self.byte()
        value = 0
        for shift in range(size):
            value |= self.byte() << (8 * shift)
        return -value if sign else value

    def str_(self, size: int) -> str | None:
        length = self.int_(size)
        if length < 0:
            return None
        if self.pos + length > len(self.data):
            raise ValueError("archive header is truncated")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", errors="replace")


def parse_archive_header(data: bytes) -> ArchiveHeader:
    """Parse the header pg_dump writes (pg_backup_archiver.c WriteHead/ReadHead).

    Raises ValueError when ``data`` is not (the start of) an archive header.
    """
    if not data.startswith(MAGIC):
        raise ValueError("no PGDMP magic")
    r = _Reader(data)
    r.pos = len(MAGIC)
    vmaj, vmin = r.byte(), r.byte()
    vrev = r.byte() if (vmaj, vmin) > (1, 0) else 0
    version = (vmaj, vmin)
    int_size = r.byte()
    if not 1 <= int_size <= 32:
        raise ValueError(f"implausible integer size {int_size}")
    off_size = r.byte() if version >= (1, 7) else int_size
    fmt = _FORMATS.get(r.byte(), "unknown")
    if version >= (1, 15):
        compression = _COMPRESSION.get(r.byte(), "unknown")
    elif version >= (1, 2):
        level = r.byte() if version < (1, 4) else r.int_(int_size)
        compression = "gzip" if level != 0 else "none"
    else:
        compression = "gzip"
    created = dbname = server_version = dump_version = None
    if version >= (1, 4):
        sec, minute, hour, mday, mon, year, _isdst = (r.int_(int_size) for _ in range(7))
        try:
            # The archive stores the dumping machine's local time, without a zone.
            created = datetime(1900 + year, mon + 1, mday, hour, minute, min(sec, 59))  # noqa: DTZ001
        except ValueError:
            created = None
        dbname = r.str_(int_size)
    if version >= (1, 10):
        server_version = r.str_(int_size)
        dump_version = r.str_(int_size)
    return ArchiveHeader(
        version=(vmaj, vmin, vrev),
        int_size=int_size,
        off_size=off_size,
        format=fmt,
        compression=compression,
        created=created,
        dbname=dbname,
        server_version=server_version,
        dump_version=dump_version,
    )


def _tar_toc_head(path: Path) -> bytes | None:
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar:
                if member.name == "toc.dat":
                    handle = tar.extractfile(member)
                    return handle.read(_SNIFF) if handle else None
                break  # pg_dump writes toc.dat first
    except (tarfile.TarError, OSError):
        return None
    return None


def read_archive_header(path: Path) -> ArchiveHeader | None:
    """The header of a custom file, tar file or directory dump; None if not an archive."""
    path = Path(path)
    try:
        if path.is_dir():
            toc = path / "toc.dat"
            head = toc.read_bytes()[:_SNIFF] if toc.is_file() else b""
            # toc.dat of a directory dump carries the tar format byte.
            return dataclasses.replace(parse_archive_header(head), format="directory")
        else:
            with path.open("rb") as fh:
                head = fh.read(_SNIFF)
            if not head.startswith(MAGIC) and _is_tar(head):
                head = _tar_toc_head(path) or b""
        return parse_archive_header(head)
    except (OSError, ValueError):
        return None


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


_ROLE_STMT = re.compile(
    r"^(CREATE ROLE|ALTER ROLE|COMMENT ON ROLE|GRANT\b.*\bTO\b|REVOKE\b|"
    r"SECURITY LABEL FOR \S+ ON ROLE|DROP ROLE)",
    re.IGNORECASE,
)
_SESSION_STMT = re.compile(r"^(SET|SELECT pg_catalog\.set_config|\\restrict|\\unrestrict)\b", re.I)
_SQL_START = re.compile(
    r"^(--|/\*|SET\b|CREATE\b|ALTER\b|SELECT\b|BEGIN\b|COPY\b|INSERT\b|GRANT\b|COMMENT\b|"
    r"DROP\b|\\connect\b|\\restrict\b)",
    re.IGNORECASE,
)


def _classify_text(lines: Iterable[str], first: str) -> DumpKind:
    """Plain SQL flavours, from the statements that start lines."""
    if not _SQL_START.match(first):
        return DumpKind.UNKNOWN
    role = tablespace = other = 0
    connect = data = False
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("--") or raw[:1].isspace():
            continue
        if _SESSION_STMT.match(line):
            continue
        if _ROLE_STMT.match(line):
            role += 1
        elif re.match(r"^CREATE TABLESPACE\b", line, re.I):
            tablespace += 1
        elif line.startswith("\\connect"):
            connect = True
        else:
            if re.match(r"^(COPY\b.*FROM stdin|INSERT INTO)", line, re.I):
                data = True
            other += 1
    if other == 0 and tablespace == 0 and role == 0:
        return DumpKind.EMPTY  # only comments and SET lines: nothing to restore
    if other == 0 and tablespace == 0 and role:
        return DumpKind.ROLES
    if other == 0 and role == 0 and tablespace:
        return DumpKind.TABLESPACES
    if connect and not data:
        return DumpKind.SCHEMAS
    return DumpKind.PLAIN_SQL


def classify_bytes(head: bytes) -> DumpKind:
    """Classify from the first bytes of a file (for plain SQL, only that part is seen)."""
    if head.startswith(MAGIC):
        return DumpKind.CUSTOM
    if _is_tar(head):
        return DumpKind.TAR
    if not head.strip():
        return DumpKind.EMPTY
    if b"\x00" in head:
        return DumpKind.UNKNOWN
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) >= _SNIFF and lines:
        lines = lines[:-1]  # the last line may be cut
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    return _classify_text(lines, first)


@dataclass(frozen=True)
class DumpInfo:
    """What a restored file (or folder) is and how to restore it."""

    path: Path
    kind: DumpKind
    size: int = 0
    header: ArchiveHeader | None = None

    @property
    def restore_with(self) -> str | None:
        """ "pg_restore", "psql", or None (skip: schemas, tablespaces, markers, unknown)."""
        if self.kind.is_archive:
            return "pg_restore"
        if self.kind in (DumpKind.PLAIN_SQL, DumpKind.ROLES):
            return "psql"
        return None


def _scan_lines(path: Path) -> tuple[list[str], str]:
    lines: list[str] = []
    read = 0
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            read += len(line)
            lines.append(line.rstrip("\n"))
            if read > _SCAN_LIMIT:
                break
    first = next((ln.strip().lstrip("\ufeff") for ln in lines if ln.strip()), "")
    return lines, first


_TEXT_KINDS = (DumpKind.PLAIN_SQL, DumpKind.ROLES, DumpKind.TABLESPACES, DumpKind.SCHEMAS)


def classify(path: Path | str) -> DumpInfo:
    """Classify a file or folder by its content, never by its name."""
    path = Path(path)
    if path.is_dir():
        header = read_archive_header(path)
        kind = DumpKind.DIRECTORY if header is not None else DumpKind.UNKNOWN
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return DumpInfo(path, kind, size, header)
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(_SNIFF)
    kind = classify_bytes(head)
    header = None
    if kind in (DumpKind.CUSTOM, DumpKind.TAR):
        header = read_archive_header(path)
        if kind is DumpKind.TAR and header is None:
            kind = DumpKind.UNKNOWN  # a tar, but not one pg_dump wrote
    elif kind in _TEXT_KINDS and size > len(head):  # look further than the sniffed head
        lines, first = _scan_lines(path)
        kind = _classify_text(lines, first)
    return DumpInfo(path, kind, size, header)


# ---------------------------------------------------------------- pg_restore --list


@dataclass(frozen=True)
class TocEntry:
    """One line of ``pg_restore --list``."""

    dump_id: int
    desc: str  # TABLE, TABLE DATA, EXTENSION, INDEX, ...
    schema: str  # "" when the object has none
    name: str
    owner: str


@dataclass(frozen=True)
class Toc:
    """An archive's table of contents."""

    entries: tuple[TocEntry, ...]
    header: dict[str, str] = field(default_factory=dict)

    @property
    def extensions(self) -> tuple[str, ...]:
        return tuple(sorted({e.name for e in self.entries if e.desc == "EXTENSION"}))

    @property
    def tables(self) -> tuple[tuple[str, str], ...]:
        """(schema, table) of every table with data, for row-count checks."""
        return tuple(sorted({(e.schema, e.name) for e in self.entries if e.desc == "TABLE DATA"}))

    @property
    def server_version(self) -> str:
        return self.header.get("Dumped from database version", "")

    @property
    def dump_version(self) -> str:
        return self.header.get("Dumped by pg_dump version", "")

    @property
    def dbname(self) -> str:
        return self.header.get("dbname", "")


# Longest first, so "TABLE DATA" wins over "TABLE".
TOC_DESCS = sorted(
    [
        "ACCESS METHOD", "ACL", "AGGREGATE", "BLOB", "BLOB METADATA", "BLOBS", "CAST",
        "CHECK CONSTRAINT", "COLLATION", "COMMENT", "CONSTRAINT", "CONVERSION",
        "DATABASE", "DATABASE PROPERTIES", "DEFAULT", "DEFAULT ACL", "DOMAIN", "ENCODING",
        "EVENT TRIGGER", "EXTENSION", "FK CONSTRAINT", "FOREIGN DATA WRAPPER",
        "FOREIGN SERVER", "FOREIGN TABLE", "FUNCTION", "INDEX", "INDEX ATTACH",
        "LARGE OBJECT", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA", "OPERATOR",
        "OPERATOR CLASS", "OPERATOR FAMILY", "POLICY", "PROCEDURAL LANGUAGE", "PROCEDURE",
        "PUBLICATION", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "ROW SECURITY",
        "RULE", "SCHEMA", "SEARCHPATH", "SECURITY LABEL", "SEQUENCE", "SEQUENCE OWNED BY",
        "SEQUENCE SET", "SERVER", "SHELL TYPE", "STATISTICS", "STATISTICS DATA",
        "STDSTRINGS", "SUBSCRIPTION", "SUBSCRIPTION TABLE", "TABLE", "TABLE ATTACH",
        "TABLE DATA", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
        "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "TRANSFORM", "TRIGGER", "TYPE",
        "USER MAPPING", "VIEW",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_ENTRY_RE = re.compile(r"^(\d+);\s+\d+\s+\d+\s+(.*)$")
_HEADER_RE = re.compile(r"^;\s+([^:]+):\s*(.*)$")


def parse_toc_listing(text: str) -> Toc:
    """Parse ``pg_restore --list`` output into a Toc."""
    entries: list[TocEntry] = []
    header: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(";"):
            match = _HEADER_RE.match(line)
            if match and not entries:
                header.setdefault(match.group(1).strip(), match.group(2).strip())
            continue
        match = _ENTRY_RE.match(line)
        if not match:
            continue
        rest = match.group(2)
        desc = next((d for d in TOC_DESCS if rest.startswith(d + " ")), "")
        if not desc:
            desc = rest.partition(" ")[0]
        schema, _, tail = rest[len(desc) + 1 :].partition(" ")
        name, _, owner = tail.rpartition(" ")
        if not name:  # only one word after the schema: it is the name
            name, owner = owner, ""
        entries.append(
            TocEntry(
                dump_id=int(match.group(1)),
                desc=desc,
                schema="" if schema == "-" else schema,
                name=name,
                owner=owner,
            )
        )
    return Toc(tuple(entries), header)


def table_of_contents(path: Path | str, pg_restore: PgTool, *, timeout: float = 120.0) -> Toc:
    """Run ``pg_restore --list`` on an archive; AppError (via outcome) if it fails."""
    argv = [str(pg_restore.path), "--list", str(path)]
    out = subprocess.run(
        argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
    )
    if out.returncode != 0:
        lines = out.stderr.splitlines() or [f"pg_restore: error: exit code {out.returncode}"]
        errors, _benign, fatal = collect_errors(lines)
        raise_for_outcome(
            ProcessOutcome(
                exit_code=out.returncode,
                error_lines=tuple(errors or lines),
                benign_errors=(),
                fatal_errors=tuple(fatal or lines[:1]),
                tool="pg_restore --list",
            )
        )
    return parse_toc_listing(out.stdout)


# Extensions that need shared_preload_libraries on flex, and the library each needs.
_PRELOAD = {
    "age": "age",
    "auto_explain": "auto_explain",
    "azure_storage": "azure_storage",
    "pg_cron": "pg_cron",
    "pg_duckdb": "pg_duckdb",
    "pg_failover_slots": "pg_failover_slots",
    "pg_hint_plan": "pg_hint_plan",
    "pg_partman": "pg_partman_bgw",
    "pg_partman_bgw": "pg_partman_bgw",
    "pg_prewarm": "pg_prewarm",
    "pg_squeeze": "pg_squeeze",
    "pg_stat_statements": "pg_stat_statements",
    "pgaudit": "pgaudit",
    "pglogical": "pglogical",
    "timescaledb": "timescaledb",
    "wal2json": "wal2json",
}
# Present on every server; never need allow-listing.
BUILTIN_EXTENSIONS = frozenset({"plpgsql"})


_CREATE_EXTENSION = re.compile(
    r'^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z0-9_$-]+)',
    re.IGNORECASE,
)


def plain_sql_extensions(path: Path) -> tuple[str, ...]:
    """The extensions a plain-SQL dump creates (``CREATE EXTENSION`` lines), sorted.

    pg_dump writes them in the pre-data section, so the scan stops at the first ``COPY`` (the
    data): a schema-sized read, never the whole dump.
    """
    found: set[str] = set()
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("COPY "):
                break
            m = _CREATE_EXTENSION.match(line)
            if m:
                name = m.group(1)
                found.add(name[1:-1].replace('""', '"') if name.startswith('"') else name.lower())
    return tuple(sorted(found))


def preload_libraries_for(extensions: Iterable[str]) -> tuple[str, ...]:
    """The shared_preload_libraries entries the given extensions need (sorted, unique)."""
    return tuple(sorted({_PRELOAD[e] for e in extensions if e in _PRELOAD}))
