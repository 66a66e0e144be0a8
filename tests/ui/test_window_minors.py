"""Issue #14's minors on the main window: 1024×700, toasts, search, overdue, raw values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.ui.main_window import MainWindow
from pgflex_gui.ui.tree.model import Column
from pgflex_gui.ui.tree.nodes import NodeKind, ResourceNode
from tests.ui.fakes import FakeInventory


@pytest.fixture
def window(
    qtbot: Any, qsettings: Any, inventory: FakeInventory, tasks: Any, now: Any
) -> Iterator[MainWindow]:
    win = MainWindow(inventory=inventory, tasks=tasks, settings=qsettings, account="dba", now=now)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: len(win.model.servers()) == 6, timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    yield win
    win.close()


def _server(win: MainWindow, name: str) -> ResourceNode:
    return next(n for n in win.model.servers() if n.label == name)


def _select(win: MainWindow, node: ResourceNode) -> None:
    win.tree.setCurrentIndex(win.proxy.mapFromSource(win.model.index_of(node)))


def test_1024x700_gives_the_centre_its_share(window: MainWindow, qtbot: Any) -> None:
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.tree_dock.width() > 700)  # it took the room it had
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    QApplication.processEvents()
    assert window.tree_dock.width() <= 0.55 * window.width()
    assert window.centralWidget().width() >= 460
    lines = window.fontMetrics().lineSpacing()
    assert window.details.height() >= 8 * lines  # not two rows high
    # the chart keeps its subscription names: enough room left of the plot and per bar
    chart = window.coverage._chart
    plot = chart.plotArea()
    widest = max(window.fontMetrics().horizontalAdvance(s) for s in ("Production", "Development"))
    assert plot.left() >= widest
    assert plot.height() / 2 >= 2 * lines
    # and back: the tree takes its share again (it kept 320 px in a 1400 px window)
    shrunk = window.tree_dock.width()
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400)
    QApplication.processEvents()
    assert window.tree_dock.width() >= shrunk * 1400 / 1024 - 2
    assert window.tree_dock.width() <= 0.5 * window.width() + 2


def test_backup_overdue_fits_its_column_and_is_in_the_details(window: MainWindow) -> None:
    window.resize(1024, 700)
    QApplication.processEvents()
    node = _server(window, "pg-stale")
    index = window.proxy.mapFromSource(window.model.index_of(node, Column.STATUS))
    text = str(index.data())
    assert text == "Backup overdue (vault-weu)"
    icon = window.tree.iconSize().width() or 16
    needed = window.tree.fontMetrics().horizontalAdvance(text) + icon + 12
    assert needed <= window.tree.columnWidth(Column.STATUS)
    _select(window, node)
    rows = dict(window.details.rows())
    assert rows["Protection"] == "Backup overdue (vault-weu)"
    assert "more than 8 days" in rows["Backup overdue"]


def test_search_expands_to_hits_and_says_when_nothing_matches(
    window: MainWindow, qtbot: Any
) -> None:
    servers = next(n for n in window.model.root.walk() if n.kind is NodeKind.SERVERS_GROUP)
    group_index = window.proxy.mapFromSource(window.model.index_of(servers))
    window.tree.collapse(group_index)
    window.search.setText("pg-stale")
    qtbot.waitUntil(
        lambda: window.tree.isExpanded(window.proxy.mapFromSource(window.model.index_of(servers)))
    )
    hit = window.proxy.mapFromSource(window.model.index_of(_server(window, "pg-stale")))
    assert hit.isValid()
    assert window.tree.visualRect(hit).isValid()  # on screen, not inside a collapsed row
    assert not window.tree_note.isVisible()

    window.search.setText("no-such-server")
    assert window.proxy.rowCount() == 0
    assert window.tree_note.isVisible()
    assert window.tree_note.text() == "No server matches “no-such-server”."
    window.search.clear()
    assert not window.tree_note.isVisible()


def test_toasts_go_by_themselves_unless_hovered(window: MainWindow, qtbot: Any) -> None:
    presenter, toast = window.presenter, window.toast
    presenter.show_notice("a note", timeout_ms=50)
    assert toast.isVisible()
    qtbot.waitUntil(lambda: not toast.isVisible(), timeout=2000)

    presenter.show_error(AppError(Fault.AZURE, "an error"))
    qtbot.waitUntil(toast.isVisible)
    assert presenter._notice_timer.isActive()
    assert presenter._notice_timer.remainingTime() > 6000  # errors stay a bit longer
    QApplication.sendEvent(toast, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))
    assert not presenter._notice_timer.isActive()  # hovering keeps it
    QApplication.sendEvent(toast, QEvent(QEvent.Type.Leave))
    assert presenter._notice_timer.isActive()
    presenter._notice_timer.start(10)
    qtbot.waitUntil(lambda: not toast.isVisible(), timeout=2000)
    assert not presenter._notice_timer.isActive()


def test_backup_instance_details_and_tooltips_say_states_in_words(
    window: MainWindow, qtbot: Any, tasks: Any
) -> None:
    broken = _server(window, "pg-broken")
    tip = str(window.model.index_of(broken).data(Qt.ItemDataRole.ToolTipRole))
    stale = _server(window, "pg-stale")
    _select(window, stale)
    assert "ProtectionConfigured" not in " ".join(v for _k, v in window.details.rows())
    assert "ProtectionError" not in tip
    vaults = next(n for n in window.model.root.walk() if n.kind is NodeKind.VAULTS_GROUP)
    window.model.fetchMore(window.model.index_of(vaults))
    qtbot.waitUntil(lambda: bool(vaults.children) and tasks.pending == 0, timeout=10_000)
    vault = vaults.children[0]
    window.model.fetchMore(window.model.index_of(vault))
    qtbot.waitUntil(lambda: bool(vault.children) and tasks.pending == 0, timeout=10_000)
    group = next(c for c in vault.children if c.kind is NodeKind.INSTANCES_GROUP)
    window.model.fetchMore(window.model.index_of(group))
    qtbot.waitUntil(lambda: bool(group.children) and tasks.pending == 0, timeout=10_000)
    _select(window, group.children[0])
    rows = dict(window.details.rows())
    assert rows["Protection"] in {"Protected", "Protection error"}
    assert not rows["Server"].startswith("/subscriptions/")


def test_context_menu_disables_what_would_refuse_and_says_why(window: MainWindow) -> None:
    def entries(name: str) -> dict[str, tuple[bool, str]]:
        menu = window.tree.context_menu(_server(window, name))
        try:
            return {a.text(): (a.isEnabled(), a.toolTip()) for a in menu.actions() if a.text()}
        finally:
            menu.deleteLater()

    dev = entries("pg-dev")  # not protected
    assert dev["Configure backup…"][0]
    assert dev["Backup now"] == (False, "This server is not protected, so it has no backups.")
    assert not dev["Restore…"][0]
    legacy = entries("pg-legacy")  # not protected and stopped
    assert legacy["Configure backup…"] == (False, "The server is Stopped; start it first.")
    orders = entries("pg-orders")  # protected
    assert orders["Configure backup…"] == (False, "Already protected by vault vault-weu.")
    assert orders["Backup now"][0]
    assert orders["Restore…"][0]
    assert orders["Refresh"][0]


def test_help_check_this_machine_runs_the_doctor_in_the_background(
    qtbot: Any, qsettings: Any, inventory: FakeInventory, tasks: Any, now: Any
) -> None:
    from pgflex_gui.cli import doctor_report

    win = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=qsettings,
        now=now,
        doctor=lambda: doctor_report(5.0),
    )
    qtbot.addWidget(win)
    assert win.doctor_action.isEnabled()
    assert "Check this machine…" in [
        a.text() for m in win.menuBar().actions() if m.menu() for a in m.menu().actions()
    ]
    dialog = win.show_doctor()
    assert dialog is not None
    assert "Checking" in dialog.body.text()  # shown at once, the checks still running
    qtbot.waitUntil(lambda: bool(dialog.lines), timeout=20_000)
    checks = [c for c, _f, _ok in dialog.lines]
    assert "Keyring" in checks
    assert "Sign-in cache" in checks
    assert "Cloud" in checks
    assert "[ok] Keyring" in dialog.text() or "[WARNING] Keyring" in dialog.text()
    dialog.close()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    win.close()
