"""UI test fixtures: offscreen Qt, fresh QSettings, fake inventory, task managers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QWidget

from pgflex_gui.ui.tasks import TaskManager
from tests.ui.fakes import NOW, FakeInventory


@pytest.fixture
def qsettings(tmp_path: Path, qapp: object) -> QSettings:
    """A fresh settings file per test (never the user's)."""
    QCoreApplication.setOrganizationName("pgflex-gui-tests")
    QCoreApplication.setApplicationName("pgflex-gui-tests")
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def inventory() -> FakeInventory:
    return FakeInventory()


@pytest.fixture
def inline_tasks(qapp: object) -> Iterator[TaskManager]:
    tasks = TaskManager(inline=True)
    yield tasks
    tasks.shutdown()


@pytest.fixture
def tasks(qapp: object) -> Iterator[TaskManager]:
    tasks = TaskManager()
    yield tasks
    tasks.shutdown(wait=True)


@pytest.fixture
def now() -> object:
    return lambda: NOW


@pytest.fixture
def add_self_deleting(qtbot: object) -> Iterator[Callable[[QWidget], None]]:
    """``qtbot.addWidget`` for widgets with WA_DeleteOnClose: closed at teardown if still alive.

    (qtbot would call ``close()`` on a wrapper whose C++ widget is already gone.)
    """
    widgets: list[QWidget] = []
    yield widgets.append
    for widget in widgets:
        if shiboken6.isValid(widget):
            widget.close()
