"""pgAdmin's restore options, where they make sense for a restore from Azure Backup's files.

Per plan: sections (pre-data, data, post-data), data only or schema only, no owner, no
privileges, a single transaction. Per database: only some schemas or tables
(``schema`` or ``schema.table``), as pgAdmin's object selection does with ``-n``/``-t``.
They apply to custom, directory and tar archives; plain SQL files run through psql whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CONTENT_CHOICES", "RestoreOptions", "Section", "parse_object_lines", "parse_objects"]


class Section(StrEnum):
    PRE_DATA = "pre-data"
    DATA = "data"
    POST_DATA = "post-data"


def parse_objects(text: str) -> tuple[str, ...]:
    """ "sales, public.orders" -> ("sales", "public.orders") (blank and repeats dropped)."""
    out: list[str] = []
    for part in text.replace("\n", ",").split(","):
        name = part.strip()
        if name and name not in out:
            out.append(name)
    return tuple(out)


def parse_object_lines(text: str) -> dict[str, tuple[str, ...]]:
    """One line per database, ``sales: public.orders, archive`` -> {"sales": (…)}.

    A line without a database name is ignored (ValueError names it)."""
    out: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        db, sep, names = line.partition(":")
        if not sep or not db.strip():
            raise ValueError(f"line {number}: write 'database: schema, schema.table'")
        chosen = parse_objects(names)
        if chosen:
            out[db.strip()] = (*out.get(db.strip(), ()), *chosen)
    return out


# The wizard's "What to restore" choices: words -> (data_only, schema_only, sections).
CONTENT_CHOICES: tuple[tuple[str, bool, bool, tuple[Section, ...]], ...] = (
    ("Everything", False, False, ()),
    ("Schema only (no rows)", False, True, ()),
    ("Data only (the tables must exist)", True, False, ()),
    ("Pre-data only (tables, types, functions)", False, False, (Section.PRE_DATA,)),
    (
        "Pre-data and data (no indexes or constraints)",
        False,
        False,
        (Section.PRE_DATA, Section.DATA),
    ),
    ("Post-data only (indexes, constraints, triggers)", False, False, (Section.POST_DATA,)),
)


@dataclass(frozen=True)
class RestoreOptions:
    """What of each archive goes in, and how (the defaults restore everything)."""

    sections: tuple[Section, ...] = ()  # () = all three
    data_only: bool = False
    schema_only: bool = False
    no_owner: bool = False  # even when roles are restored
    no_privileges: bool = False  # even when roles are restored
    single_transaction: bool = False  # all or nothing per database (then one job: -1 and -j
    # can't go together)
    objects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # db -> schemas/tables

    @property
    def default(self) -> bool:
        return self == RestoreOptions()

    def problems(self) -> list[str]:
        """What can't go together, in words (empty when fine)."""
        out: list[str] = []
        if self.data_only and self.schema_only:
            out.append("choose data only or schema only, not both")
        if self.sections and (self.data_only or self.schema_only):
            out.append("sections replace data only / schema only: choose one way")
        for db, names in self.objects.items():
            for name in names:
                if name.count(".") > 1 or name.startswith(".") or name.endswith("."):
                    out.append(f"{db}: '{name}' is not a schema or schema.table")
        return out

    def loads_data(self) -> bool:
        """Whether table rows are restored (row counts can then be checked)."""
        if self.schema_only:
            return False
        return not self.sections or Section.DATA in self.sections

    def selected(self, db: str) -> tuple[str, ...]:
        return tuple(self.objects.get(db, ()))

    def includes_table(self, db: str, schema: str, table: str) -> bool:
        """Whether ``schema.table`` of ``db`` is part of this restore."""
        names = self.selected(db)
        if not names:
            return True
        return any(n == schema or n == f"{schema}.{table}" for n in names)

    def schemas(self, db: str) -> tuple[str, ...]:
        """The schemas the selection of ``db`` lives in: pg_restore ``-n``/``-t`` restore
        the objects but not the schema itself, so they must exist first."""
        out: list[str] = []
        for name in self.selected(db):
            schema = name.split(".", 1)[0]
            if schema not in out:
                out.append(schema)
        return tuple(out)

    def pg_restore_args(self, db: str) -> list[str]:
        """pg_restore flags for ``db`` (owner and privileges are decided with the roles)."""
        args: list[str] = []
        if self.data_only:
            args.append("--data-only")
        if self.schema_only:
            args.append("--schema-only")
        for section in self.sections:
            args.append(f"--section={section.value}")
        if self.single_transaction:
            args.append("--single-transaction")
        for name in self.selected(db):
            if "." in name:
                schema, table = name.split(".", 1)
                args += ["-n", schema, "-t", table]
            else:
                args += ["-n", name]
        return args

    def words(self) -> list[str]:
        """One line per choice, for the summary page and the report."""
        out: list[str] = []
        if self.data_only:
            out.append("data only (the tables must exist)")
        if self.schema_only:
            out.append("schema only (no rows)")
        if self.sections:
            out.append("sections: " + ", ".join(s.value for s in self.sections))
        if self.no_owner:
            out.append("no owner (objects owned by the admin)")
        if self.no_privileges:
            out.append("no privileges (no GRANT/REVOKE)")
        if self.single_transaction:
            out.append("single transaction per database (one job)")
        for db, names in sorted(self.objects.items()):
            if names:
                out.append(f"{db}: only {', '.join(names)}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "sections": [s.value for s in self.sections],
            "data_only": self.data_only,
            "schema_only": self.schema_only,
            "no_owner": self.no_owner,
            "no_privileges": self.no_privileges,
            "single_transaction": self.single_transaction,
            "objects": {db: list(names) for db, names in self.objects.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> RestoreOptions:
        """Parse :meth:`to_json`'s form; ValueError when malformed."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("options must be an object")
        objects = data.get("objects") or {}
        if not isinstance(objects, Mapping):
            raise ValueError("options.objects must map databases to lists")
        return cls(
            sections=tuple(Section(s) for s in data.get("sections") or ()),
            data_only=bool(data.get("data_only", False)),
            schema_only=bool(data.get("schema_only", False)),
            no_owner=bool(data.get("no_owner", False)),
            no_privileges=bool(data.get("no_privileges", False)),
            single_transaction=bool(data.get("single_transaction", False)),
            objects={str(db): tuple(str(n) for n in names) for db, names in objects.items()},
        )
