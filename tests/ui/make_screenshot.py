"""Render the main window over the fake inventory to a PNG (docs/screenshot-main.png).

Run under Xvfb: ``xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m
tests.ui.make_screenshot docs/screenshot-main.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from pgflex_gui.app import RESOURCES
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.models import Subscription
from pgflex_gui.ui.main_window import MainWindow
from pgflex_gui.ui.tasks import TaskManager
from tests.ui.fakes import NOW, SUB_BAD, TENANT, FakeInventory


def _wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main(out: str) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    inventory = FakeInventory(
        delay=0.05,
        fail={
            SUB_BAD: AppError(
                Fault.PERMISSION,
                "You cannot read this subscription.",
                remedy="Ask for the Reader role on it.",
            )
        },
    )
    inventory.subscriptions[TENANT].append(Subscription(SUB_BAD, "Finance (restricted)", TENANT))
    tasks = TaskManager()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "w.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=settings,
        cloud="AzureCloud",
        account="dba@contoso.com",
        now=lambda: NOW,
        window_icon=QIcon(str(RESOURCES / "pgflex-gui.svg")),
    )
    window.show()
    window.start()
    for _ in range(100):
        _wait(50)
        if len(window.model.servers()) == 6 and tasks.pending == 0:
            break
    _wait(300)
    node = next(n for n in window.model.servers() if n.label == "pg-billing")
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(node)))
    window.jobs.refresh_azure_jobs()
    _wait(500)
    window.grab().save(out)
    window.close()
    tasks.shutdown()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot-main.png"))
