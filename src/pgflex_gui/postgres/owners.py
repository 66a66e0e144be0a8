"""Keep an archive's owners on a flexible server, where the admin login is not superuser.

``pg_restore`` without ``--no-owner`` runs ``ALTER ... OWNER TO role`` for every object. On a
flexible server the admin login is not superuser, so PostgreSQL allows that only when the
admin may act as the role: a member of it on PostgreSQL 15 ("must be member of role …"), and
holding its SET option on 16+ ("must be able to SET ROLE …"; a creator gets ADMIN OPTION
only, unless ``createrole_self_grant`` says otherwise). The admin may create roles
(CREATEROLE) and so may grant itself membership in them, but never in a superuser role.

So before the restore :func:`grant_owner_memberships` grants the admin membership in each
owning role it can't act as yet; an owner that is missing on the target, or whose membership
is refused, means ``--no-owner`` for that database (:attr:`OwnerGrants.keep_owners`). After
the restore :func:`owner_mismatches` compares each restored schema, relation and routine
with the owner the archive names, and :func:`revoke_memberships` takes back what was granted
when the user asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pgflex_gui.domain.errors import AppError
from pgflex_gui.postgres.dumps import Toc
from pgflex_gui.postgres.psql import ConnParams, query, quote_ident, quote_literal
from pgflex_gui.postgres.tools import PgTool

__all__ = [
    "CHECKED_DESCS",
    "OwnerGrants",
    "archive_owners",
    "grant_owner_memberships",
    "owner_mismatches",
    "revoke_memberships",
]

# TOC entries whose owner is checked after the restore (all carry an ALTER ... OWNER TO).
CHECKED_DESCS = frozenset(
    {
        "SCHEMA",
        "TABLE",
        "VIEW",
        "MATERIALIZED VIEW",
        "SEQUENCE",
        "FOREIGN TABLE",
        "FUNCTION",
        "PROCEDURE",
        "AGGREGATE",
        "TYPE",
        "DOMAIN",
    }
)
# Entries pg_restore (without --create) does not own anything through.
_NOT_OWNING = frozenset({"DATABASE", "DATABASE PROPERTIES", "ENCODING", "STDSTRINGS"})


@dataclass(frozen=True)
class OwnerGrants:
    """What was needed to keep an archive's owners, and what could not be done."""

    owners: tuple[str, ...] = ()  # roles owning objects in the archive (the admin left out)
    granted: tuple[str, ...] = ()  # memberships granted to the admin now
    already: tuple[str, ...] = ()  # roles the admin could already act as
    missing: tuple[str, ...] = ()  # owners that do not exist on the target
    refused: tuple[tuple[str, str], ...] = ()  # (role, why) memberships PostgreSQL refused

    @property
    def keep_owners(self) -> bool:
        """True when every owner can be set: restore without ``--no-owner``."""
        return not (self.missing or self.refused)

    @property
    def reason(self) -> str:
        """Why owners can't be kept ("" when they can)."""
        parts = []
        if self.missing:
            parts.append(f"role(s) {', '.join(self.missing)} do not exist on the target")
        for role, why in self.refused:
            parts.append(f"the admin can't be made a member of {role} ({why})")
        return "; ".join(parts)


def archive_owners(toc: Toc, *, admin: str) -> tuple[str, ...]:
    """The roles owning objects in ``toc``, sorted; ``admin`` itself is left out."""
    owners = {e.owner for e in toc.entries if e.owner and e.desc not in _NOT_OWNING}
    owners.discard(admin)
    return tuple(sorted(owners))


def _array(names: Iterable[str]) -> str:
    return "array[" + ", ".join(quote_literal(n) for n in names) + "]::text[]"


def grant_owner_memberships(
    psql: PgTool, conn: ConnParams, owners: Sequence[str], *, password: str | None
) -> OwnerGrants:
    """Grant ``conn.user`` membership in each owner it can't act as yet (see module doc)."""
    owners = tuple(sorted({o for o in owners if o and o != conn.user}))
    if not owners:
        return OwnerGrants()
    major = int(query(psql, conn, "show server_version_num", password=password)[0][0]) // 10000
    option = "SET" if major >= 16 else "MEMBER"
    rows = query(
        psql,
        conn,
        f"select rolname, pg_has_role(current_user, oid, '{option}') from pg_roles "
        f"where rolname = any({_array(owners)})",
        password=password,
    )
    can = {name: flag == "t" for name, flag in rows}
    missing = tuple(o for o in owners if o not in can)
    already = tuple(o for o in owners if can.get(o))
    granted: list[str] = []
    refused: list[tuple[str, str]] = []
    for role in owners:
        if role in missing or role in already:
            continue
        try:
            query(
                psql,
                conn,
                f"grant {quote_ident(role)} to {quote_ident(conn.user)}",
                password=password,
            )
        except AppError as exc:
            refused.append((role, exc.summary))
        else:
            granted.append(role)
    return OwnerGrants(owners, tuple(granted), already, missing, tuple(refused))


def revoke_memberships(
    psql: PgTool, conn: ConnParams, roles: Iterable[str], *, password: str | None
) -> list[str]:
    """Revoke the admin's memberships granted by :func:`grant_owner_memberships`.

    Returns the roles whose revoke failed (with the reason), empty when all went.
    """
    failed: list[str] = []
    for role in sorted(set(roles)):
        try:
            query(
                psql,
                conn,
                f"revoke {quote_ident(role)} from {quote_ident(conn.user)}",
                password=password,
            )
        except AppError as exc:
            failed.append(f"{role}: {exc.summary}")
    return failed


_OWNERS_SQL = """
select 'SCHEMA', '', n.nspname, pg_get_userbyid(n.nspowner) from pg_namespace n
union all
select case c.relkind when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW'
                      when 'S' then 'SEQUENCE' when 'f' then 'FOREIGN TABLE' else 'TABLE' end,
       n.nspname, c.relname, pg_get_userbyid(c.relowner)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
union all
select case p.prokind when 'p' then 'PROCEDURE' when 'a' then 'AGGREGATE' else 'FUNCTION' end,
       n.nspname, p.proname, pg_get_userbyid(p.proowner)
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
union all
select case t.typtype when 'd' then 'DOMAIN' else 'TYPE' end,
       n.nspname, t.typname, pg_get_userbyid(t.typowner)
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
 where t.typtype in ('e', 'd', 'r', 'm', 'c')
   and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')
"""


def _bare(desc: str, name: str) -> str:
    """A TOC tag without its argument list (``f(integer)`` -> ``f``)."""
    if desc in {"FUNCTION", "PROCEDURE", "AGGREGATE"} and "(" in name:
        return name.split("(", 1)[0]
    return name


def owner_mismatches(
    psql: PgTool, conn: ConnParams, toc: Toc, *, password: str | None
) -> list[str]:
    """Objects of ``toc`` whose owner in ``conn.dbname`` differs from the archive's.

    Each item reads ``TABLE s.t: owner x, expected y`` (or ``... missing``).
    """
    found: dict[tuple[str, str, str], set[str]] = {}
    for desc, schema, name, owner in query(psql, conn, _OWNERS_SQL, password=password):
        found.setdefault((desc, schema, name), set()).add(owner)
    out: list[str] = []
    for e in toc.entries:
        if e.desc not in CHECKED_DESCS or not e.owner:
            continue
        key = (e.desc, e.schema, _bare(e.desc, e.name))
        label = f"{e.desc} {e.schema + '.' if e.schema else ''}{e.name}"
        owners = found.get(key)
        if owners is None:
            out.append(f"{label}: missing")
        elif e.owner not in owners:
            out.append(f"{label}: owner {', '.join(sorted(owners))}, expected {e.owner}")
    return out
