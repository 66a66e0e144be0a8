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


def _active_timers() -> set[int]:
    import gc

    from PySide6.QtCore import QTimer

    return {
        id(obj)
        for obj in gc.get_objects()
        if isinstance(obj, QTimer) and shiboken6.isValid(obj) and obj.isActive()
    }


@pytest.fixture(autouse=True)
def _no_leaked_windows_or_timers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a UI test that leaves a window open or a QTimer running once it is torn down.

    Set up before the test's own fixtures and torn down after them, so the widgets qtbot was
    given are already closed when this looks.
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    windows_before = set(map(id, QApplication.topLevelWidgets())) if app else set()
    timers_before = _active_timers()
    yield
    app = QApplication.instance()
    if app is None:
        return
    app.processEvents()
    windows = [
        w for w in QApplication.topLevelWidgets()
        if id(w) not in windows_before and shiboken6.isValid(w) and w.isVisible()
    ]  # fmt: skip
    timers = _active_timers() - timers_before
    for window in windows:
        window.close()
    problems = []
    if windows:
        names = ", ".join(f"{type(w).__name__} {w.windowTitle()!r}" for w in windows)
        problems.append(f"windows left open: {names}")
    if timers:
        problems.append(f"{len(timers)} QTimer(s) left running")
    if problems:
        pytest.fail(f"{request.node.nodeid}: " + " / ".join(problems), pytrace=False)
