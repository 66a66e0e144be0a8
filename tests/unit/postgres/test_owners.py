"""Owner bookkeeping that needs no server (the rest runs on real clusters in adapters/)."""

from __future__ import annotations

from pgflex_gui.postgres.dumps import Toc, TocEntry
from pgflex_gui.postgres.owners import OwnerGrants, archive_owners


def test_archive_owners_leave_out_the_admin_and_the_database_entry() -> None:
    toc = Toc(
        (
            TocEntry(1, "DATABASE", "", "ledger", "azuresu"),
            TocEntry(2, "SCHEMA", "", "books", "ledger_owner"),
            TocEntry(3, "TABLE", "books", "entries", "ledger_owner"),
            TocEntry(4, "TABLE", "public", "notes", "pgadmin"),
            TocEntry(5, "TABLE DATA", "public", "notes", "pgadmin"),
            TocEntry(6, "ACL", "books", "TABLE entries", ""),
            TocEntry(7, "FUNCTION", "books", "total()", "auditor"),
        )
    )
    assert archive_owners(toc, admin="pgadmin") == ("auditor", "ledger_owner")


def test_owners_are_kept_only_when_every_owner_can_be_set() -> None:
    assert OwnerGrants().keep_owners
    assert OwnerGrants(("a",), granted=("a",)).keep_owners
    missing = OwnerGrants(("a", "b"), missing=("b",))
    assert not missing.keep_owners
    assert missing.reason == "role(s) b do not exist on the target"
    refused = OwnerGrants(("azuresu",), refused=(("azuresu", "must be superuser"),))
    assert not refused.keep_owners
    assert "can't be made a member of azuresu (must be superuser)" in refused.reason
