"""Clean a roles file (``pg_dumpall --roles-only`` / Azure's Roles.sql) for a flexible server.

Rules from the fact sheet, section 6: flex has no superuser, so SUPERUSER, BYPASSRLS and
REPLICATION attributes (and their NO forms) go; service roles (azuresu, azure_pg_admin,
replication, localadmin, ...) and Entra roles (they need an Entra admin) are left out.
``postgres`` is left out too: on a community server it is the bootstrap superuser, and on
flex the admin login takes its place. ``GRANTED BY`` clauses are dropped so the admin
running the file becomes the grantor. The raw file is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SERVICE_ROLES",
    "DroppedLine",
    "SanitizedRoles",
    "sanitize_roles",
    "sanitize_roles_file",
]

SERVICE_ROLES = frozenset(
    {
        "azuresu",
        "azure_superuser",
        "azure_su",
        "azure_pg_admin",
        "replication",
        "localadmin",
        "postgres",
    }
)

_IDENT = r'("(?:[^"]|"")*"|[^\s;,"]+)'
_CREATE_ALTER = re.compile(rf"^(CREATE|ALTER)\s+(ROLE|USER)\s+{_IDENT}(.*)$", re.IGNORECASE)
_COMMENT = re.compile(rf"^COMMENT\s+ON\s+ROLE\s+{_IDENT}", re.IGNORECASE)
_LABEL = re.compile(rf"^SECURITY\s+LABEL\s+FOR\s+{_IDENT}\s+ON\s+ROLE\s+{_IDENT}", re.IGNORECASE)
_GRANT = re.compile(r"^GRANT\s+(.+?)\s+TO\s+(.+?)\s*;\s*$", re.IGNORECASE)
_GRANTED_BY = re.compile(rf"\s+GRANTED\s+BY\s+{_IDENT}", re.IGNORECASE)
_WITH_TAIL = re.compile(r"\s+WITH\s+.*$", re.IGNORECASE)
_ATTRS = re.compile(r"\s+(NO)?(SUPERUSER|BYPASSRLS|REPLICATION)\b", re.IGNORECASE)
_PASSWORD = re.compile(r"\bPASSWORD\s+'", re.IGNORECASE)
_LOGIN = re.compile(r"(?<![A-Za-z])LOGIN\b", re.IGNORECASE)
_NOLOGIN = re.compile(r"\bNOLOGIN\b", re.IGNORECASE)


@dataclass(frozen=True)
class DroppedLine:
    line_no: int  # 1-based, in the raw file
    text: str
    reason: str


@dataclass(frozen=True)
class SanitizedRoles:
    """The cleaned SQL and what was done to get it."""

    sql: str
    kept_roles: tuple[str, ...]
    dropped_lines: tuple[DroppedLine, ...]
    has_passwords: bool
    login_roles_without_password: tuple[str, ...] = ()
    entra_roles: tuple[str, ...] = ()
    changed_lines: int = 0

    @property
    def needs_passwords(self) -> bool:
        """Login roles will exist but nobody can sign in as them until passwords are set."""
        return bool(self.login_roles_without_password)


def _unquote(ident: str) -> str:
    if ident.startswith('"') and ident.endswith('"') and len(ident) >= 2:
        return ident[1:-1].replace('""', '"')
    return ident.lower()


def _split_roles(text: str) -> list[str]:
    return [_unquote(part.strip()) for part in re.findall(_IDENT, text)]


def _strip_attributes(rest: str) -> str:
    """Remove forbidden attributes outside quoted strings (passwords stay untouched)."""
    quote = rest.find("'")
    head, tail = (rest, "") if quote < 0 else (rest[:quote], rest[quote:])
    return _ATTRS.sub("", head) + tail


def sanitize_roles(sql: str, *, exclude: Iterable[str] = ()) -> SanitizedRoles:
    """Clean roles SQL; ``exclude`` adds roles to leave out (target admin, Entra admins)."""
    skip = set(SERVICE_ROLES) | {r.lower() for r in exclude} | set(exclude)
    lines = sql.splitlines()
    entra: set[str] = set()
    for line in lines:
        label = _LABEL.match(line.strip())
        if label and _unquote(label.group(1)) == "pgaadauth":
            entra.add(_unquote(label.group(2)))

    out: list[str] = []
    dropped: list[DroppedLine] = []
    kept: list[str] = []
    with_password: set[str] = set()
    login: set[str] = set()
    has_passwords = False
    changed = 0

    def drop(no: int, text: str, reason: str) -> None:
        dropped.append(DroppedLine(no, text, reason))

    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if match := _CREATE_ALTER.match(stripped):
            role = _unquote(match.group(3))
            if role in skip:
                drop(no, line, f"{role} is a service role or the server's admin")
                continue
            if role in entra:
                drop(no, line, f"{role} is an Entra role; an Entra admin must create it")
                continue
            rest = match.group(4)
            if _PASSWORD.search(rest):
                has_passwords = True
                with_password.add(role)
            if _LOGIN.search(rest) and not _NOLOGIN.search(rest):
                login.add(role)
            elif _NOLOGIN.search(rest):
                login.discard(role)
            new_rest = _strip_attributes(rest)
            if re.fullmatch(r"\s+WITH\s*;?\s*", new_rest, re.IGNORECASE):
                drop(no, line, "only attributes flex does not allow")
                continue
            if match.group(1).upper() == "CREATE" and role not in kept:
                kept.append(role)
            if new_rest != rest:
                changed += 1
                line = f"{match.group(1)} {match.group(2)} {match.group(3)}{new_rest}"
            out.append(line)
        elif (match := _COMMENT.match(stripped)) or (match := _LABEL.match(stripped)):
            role = _unquote(match.group(match.lastindex or 1))
            if role in skip or role in entra:
                drop(no, line, f"{role} is not restored")
                continue
            out.append(line)
        elif match := _GRANT.match(stripped):
            body = match.group(2)
            granted = _split_roles(match.group(1))
            grantees = _split_roles(_GRANTED_BY.sub("", _WITH_TAIL.sub("", body)))
            if any(r in skip or r in entra for r in granted + grantees):
                drop(no, line, "membership of a service or Entra role")
                continue
            new_line = _GRANTED_BY.sub("", stripped)
            if new_line != stripped:
                changed += 1
            out.append(new_line)
        else:
            out.append(line)

    return SanitizedRoles(
        sql="\n".join(out) + ("\n" if sql.endswith("\n") else ""),
        kept_roles=tuple(kept),
        dropped_lines=tuple(dropped),
        has_passwords=has_passwords,
        login_roles_without_password=tuple(
            r for r in kept if r in login and r not in with_password
        ),
        entra_roles=tuple(sorted(entra)),
        changed_lines=changed,
    )


def sanitize_roles_file(raw: Path, cleaned: Path, *, exclude: Iterable[str] = ()) -> SanitizedRoles:
    """Write the cleaned copy of ``raw`` to ``cleaned``; ``raw`` stays as downloaded."""
    result = sanitize_roles(raw.read_text(encoding="utf-8", errors="replace"), exclude=exclude)
    cleaned.write_text(result.sql, encoding="utf-8")
    return result
