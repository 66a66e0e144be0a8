"""The stop-protection and database-credentials dialogs are wide enough for their text (#14)."""

from __future__ import annotations

from typing import Any

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer, Vault
from pgflex_gui.jobs.manage import StopMode, stop_confirmation
from pgflex_gui.ui.dialogs.confirm import ConfirmDialog
from pgflex_gui.ui.dialogs.db_credentials import DbCredentialsDialog

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
VAULT_ID = ResourceId.build(SUB, "rg-bk", "Microsoft.DataProtection", "backupVaults", "bv1")
SERVER = FlexServer(
    id=ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", "pg1"),
    location="westeurope",
    version="16",
    state="Ready",
)


def _lines(label: Any) -> int:
    return int(label.height() // label.fontMetrics().lineSpacing())


def test_stop_protection_dialog_is_wide_enough(qtbot: Any) -> None:
    vault = Vault(VAULT_ID, "westeurope", soft_delete="On", immutability="Unlocked")
    choices = [
        ("retain", "Retain data", stop_confirmation("pg1", vault, StopMode.RETAIN_DATA)),
        ("delete", "Delete data", stop_confirmation("pg1", vault, StopMode.DELETE_DATA)),
    ]
    dialog = ConfirmDialog(choices[1][2], choices=choices)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.width() >= 560
    words = len(dialog.text.text().split())
    assert _lines(dialog.text) <= words // 6 + 1  # lines of text, not a column of words
    dialog.close()


def test_credentials_dialog_is_wide_enough(qtbot: Any) -> None:
    dialog = DbCredentialsDialog(SERVER, can_remember=True)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.width() >= 520
    dialog.close()
