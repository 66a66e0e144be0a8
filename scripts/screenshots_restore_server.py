"""Screenshots of the restore-as-server wizard (vaulted backup v2, #16.3).

Run under a real X server (Xvfb), e.g.::

    PGFLEX_SANDBOX_DIR=$(mktemp -d -p /work) xvfb-run -a -s "-screen 0 1400x900x24" \\
        .venv/bin/python scripts/screenshots_restore_server.py docs

It starts an ARM-only sandbox (default seed: the v2 instance pg-ledger-weu and the empty
server pg-ledger-restore-weu), opens the wizard for the v2 instance, picks the target and
writes ``docs/screenshot-wizard-restore-as-server-target.png`` (every rule, the role that the
job will assign) and ``docs/screenshot-wizard-restore-as-server-summary.png``.
"""

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.jobs.restore_as_server import SdkServerRestoreArm
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.restore_server.wizard import (
    ServerRestoreServices,
    open_server_restore_wizard,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots_v2 import factory_for  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "docs"


def main() -> None:
    app = QApplication(sys.argv)
    box = Sandbox.start(
        Path(os.environ["PGFLEX_SANDBOX_DIR"]), dataplane=NullDataPlane(), retry_after=0
    )
    factory = factory_for(box)
    inventory = AzureInventory(factory)
    vault = inventory.get_vault(ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS)))
    instance = next(
        bi for bi in inventory.list_backup_instances(vault.id) if bi.name == "pg-ledger-weu-bi"
    )
    tasks = TaskManager()
    services = ServerRestoreServices(inventory, SdkServerRestoreArm(factory), tasks)
    wizard = open_server_restore_wizard(
        None,
        vault=vault,
        instance=instance,
        source=None,
        recovery_point=None,
        services=services,
        start_restore=lambda _plan: "screenshot",
    )
    target = IDS.server_id("pg-ledger-restore-weu")

    def finish() -> None:
        wizard.close()
        tasks.shutdown(wait=True)
        factory.close()
        box.stop()
        app.quit()

    def shoot_summary() -> None:
        wizard.grab().save(f"{OUT}/screenshot-wizard-restore-as-server-summary.png")
        finish()

    def shoot_target(tries: int = 0) -> None:
        if wizard.flow.checks is None and tries < 100:
            QTimer.singleShot(200, lambda: shoot_target(tries + 1))
            return
        QApplication.processEvents()
        wizard.grab().save(f"{OUT}/screenshot-wizard-restore-as-server-target.png")
        wizard.next()
        QTimer.singleShot(800, shoot_summary)

    def pick_target(tries: int = 0) -> None:
        combo = wizard.target_page.targets
        index = combo.findData(target)
        if index < 0 and tries < 100:
            QTimer.singleShot(200, lambda: pick_target(tries + 1))
            return
        combo.setCurrentIndex(index)
        QTimer.singleShot(500, shoot_target)

    def on_points(tries: int = 0) -> None:
        if not wizard.point_page.isComplete() and tries < 100:
            QTimer.singleShot(200, lambda: on_points(tries + 1))
            return
        wizard.grab().save(f"{OUT}/screenshot-wizard-restore-as-server-point.png")
        wizard.next()
        QTimer.singleShot(500, pick_target)

    QTimer.singleShot(1000, on_points)
    app.exec()


if __name__ == "__main__":
    main()
