"""UI test fixtures: offscreen Qt, fresh QSettings, fake inventory, task managers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

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
