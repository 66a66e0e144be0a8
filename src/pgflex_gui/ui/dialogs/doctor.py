"""Help → Check this machine…: the checks of ``pgflex doctor`` in a dialog.

The report is gathered in the background (the keyring probe can wait on a locked
Secret Service), then shown as one line per check with ok / warning.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.errors import AppError
from pgflex_gui.ui.tasks import TaskManager

__all__ = ["DoctorDialog", "doctor_lines"]

Line = tuple[str, str, bool]  # check, what was found, ok


def doctor_lines(report: dict[str, Any]) -> list[Line]:
    """The doctor's report as ``(check, finding, ok)`` lines, in the CLI's order."""
    v = report.get("versions", {})
    lines: list[Line] = [
        ("pgflex-gui", f"{v.get('pgflex-gui', '?')} (Python {v.get('python', '?')})", True)
    ]
    kr = report.get("keyring", {})
    secure = bool(kr.get("secure"))
    finding = f"{kr.get('backend', '?')}: {kr.get('reason', '')}".strip(": ")
    if not secure:
        finding += " — secrets are kept for this session only"
    lines.append(("Keyring", finding, secure))
    tc = report.get("token_cache", {})
    persistent = bool(tc.get("persistent"))
    lines.append(
        (
            "Sign-in cache",
            f"{'kept between runs' if persistent else 'memory only'} ({tc.get('reason', '')})",
            persistent,
        )
    )
    cloud = report.get("cloud", {})
    lines.append(
        (
            "Cloud",
            f"{cloud.get('cloud', '?')}, {cloud.get('arm_endpoint', '')}".strip(", ")
            + (f" — {cloud['error']}" if cloud.get("error") else ""),
            not cloud.get("error"),
        )
    )
    lines.append(("Sign-in method", str(cloud.get("sign_in_method", "")), True))
    tools = report.get("pg_tools")
    if isinstance(tools, str):
        lines.append(("PostgreSQL client tools", tools, False))
    elif not tools:
        lines.append(
            ("PostgreSQL client tools", "none found: restores need pg_restore and psql", False)
        )
    else:
        for t in tools:
            lines.append((f"{t['tool']} {t['version']}", str(t["path"]), True))
    for name, where in report.get("paths", {}).items():
        lines.append((f"{name.capitalize()} folder", str(where), True))
    return lines


class DoctorDialog(QDialog):
    """Runs ``report()`` as a background task and shows its lines."""

    def __init__(
        self,
        report: Callable[[], dict[str, Any]],
        tasks: TaskManager,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Check this machine")
        self.setMinimumWidth(640)
        self._report = report
        self._tasks = tasks
        self._text = ""
        self.body = QLabel("Checking the keyring, sign-in cache, cloud and PostgreSQL tools…")
        self.body.setObjectName("doctor_report")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy = QPushButton("Copy")
        self.again = QPushButton("Check again")
        buttons.addButton(self.copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.again, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.copy.clicked.connect(self._on_copy_clicked)
        self.again.clicked.connect(self.run)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(720, 420)
        self.lines: list[Line] = []

    def run(self) -> None:
        """Gather the report in the background; the dialog stays responsive."""
        self.again.setEnabled(False)
        self._tasks.task(self._report).keyed(("doctor", id(self))).on_success(
            self._on_report
        ).on_failure(self._on_failed).start()

    def _on_report(self, report: dict[str, Any]) -> None:
        self.lines = doctor_lines(report)
        rows = "".join(
            f"<tr><td><b>{html.escape(check)}</b></td>"
            f"<td style='color:{'#1e7e34' if ok else '#9a6700'}'>{'✔' if ok else '⚠'}</td>"
            f"<td>{html.escape(found)}</td></tr>"
            for check, found, ok in self.lines
        )
        self.body.setText(f"<table cellspacing='6'>{rows}</table>")
        self._text = "\n".join(
            f"[{'ok' if ok else 'WARNING'}] {check}: {found}" for check, found, ok in self.lines
        )
        self.again.setEnabled(True)

    def _on_failed(self, error: AppError) -> None:
        self.body.setText(html.escape(f"The checks failed: {error.summary}"))
        self.again.setEnabled(True)

    def text(self) -> str:
        """The report as plain text (what Copy puts on the clipboard)."""
        return self._text

    def _on_copy_clicked(self) -> None:
        QApplication.clipboard().setText(self._text)
