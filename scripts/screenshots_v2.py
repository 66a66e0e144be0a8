"""Screenshot of the policy wizard's policy page with vaulted backup v2 chosen (#16.2).

Run under a real X server (Xvfb), e.g.::

    PGFLEX_SANDBOX_DIR=$(mktemp -d -p /work) xvfb-run -a -s "-screen 0 1400x900x24" \\
        .venv/bin/python scripts/screenshots_v2.py docs

It starts an ARM-only sandbox (minimal seed), opens the wizard for an unprotected server,
picks the LRS vault, chooses "Vaulted backup v2" and a new policy, and writes
``docs/screenshot-wizard-policy-v2.png``.
"""

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from azure.identity import ClientSecretCredential
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.azure.vaulted_v2 import VaultedV2Service
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.jobs.protect import ServicePort
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.policy.flow import PolicyFlow
from pgflex_gui.ui.wizards.policy.wizard import PolicyWizard, WizardServices

OUT = sys.argv[1] if len(sys.argv) > 1 else "docs"


def factory_for(box: Sandbox) -> ClientFactory:
    info = box.info
    cloud = resolve_cloud(
        "AzureCloud",
        env={"PGFLEX_ARM_ENDPOINT": info.arm_endpoint, "PGFLEX_CA_BUNDLE": info.ca_bundle},
    )
    credential = ClientSecretCredential(
        IDS.TENANT,
        info.client_id,
        info.client_secret,
        authority=info.authority,
        disable_instance_discovery=True,
        connection_verify=info.ca_bundle,
    )
    return ClientFactory(cloud, credential)


def main() -> None:
    app = QApplication(sys.argv)
    box = Sandbox.start(
        Path(os.environ.get("PGFLEX_SANDBOX_DIR") or "/tmp"),
        seed="minimal",
        dataplane=NullDataPlane(),
        retry_after=0,
    )
    box.world.add_server(IDS.SUB, IDS.RG_PG, "pg-orders-weu", location="westeurope", version="16")
    factory = factory_for(box)
    inventory = AzureInventory(factory)
    server = inventory.get_server(ResourceId.parse(IDS.server_id("pg-orders-weu")))
    port = ServicePort(ProtectionService(factory), inventory, v2=VaultedV2Service(factory))
    tasks = TaskManager()
    runner = JobRunner(lanes={"arm-write": 1})
    flow = PolicyFlow([server], today=datetime.now(UTC).date())
    wizard = PolicyWizard(flow, WizardServices(inventory, port), tasks, runner)
    wizard.resize(960, 720)
    wizard.show()

    def finish() -> None:
        wizard.close()
        tasks.shutdown(wait=True)
        runner.shutdown()
        factory.close()
        box.stop()
        app.quit()

    def on_policy_page() -> None:
        page = wizard.policy_page
        page.create_new.setChecked(True)
        page.backup_type.setCurrentIndex(page.backup_type.findData("v2"))
        QTimer.singleShot(1500, shoot)

    def shoot() -> None:
        QApplication.processEvents()
        wizard.grab().save(f"{OUT}/screenshot-wizard-policy-v2.png")
        finish()

    def poll_vault(tries: int = 0) -> None:
        page = wizard.vault_page
        combo = page.vault_combo
        for i in range(combo.count()):
            if combo.itemText(i).split()[0] == IDS.VAULT_LRS:
                combo.setCurrentIndex(i)
        if page.isComplete() or tries > 100:
            wizard.next()
            QTimer.singleShot(1500, on_policy_page)
            return
        QTimer.singleShot(200, lambda: poll_vault(tries + 1))

    QTimer.singleShot(1000, poll_vault)
    app.exec()


if __name__ == "__main__":
    main()
