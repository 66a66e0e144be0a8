"""The recipe every wizard page follows: a Qt-free flow decides, the page binds and shows.

A flow (:class:`StepFlow`) tells per step what stands in the way (``issues``), whether the
step may be left (``can_advance``) and whether its listings are still on their way
(``ready``); it calls its listeners after every change. :class:`FlowPage` refreshes its
widgets on each change, shows the step's issues inline (each under the field it concerns,
the rest in one label) and takes its completeness from the flow. A page adds only its widgets
and ``refresh``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget, QWizardPage

from pgflex_gui.domain.issues import Issue, Severity

__all__ = ["FlowPage", "StepFlow", "inline_label", "issues_html"]

_COLOURS = {Severity.ERROR: "#b00020", Severity.WARNING: "#9a6700", Severity.INFO: "#555555"}
_ICONS = {Severity.ERROR: "✖", Severity.WARNING: "⚠", Severity.INFO: "ℹ"}


class StepFlow(Protocol):
    """What a page needs from its wizard's flow."""

    def subscribe(self, listener: Callable[[], None]) -> None: ...

    def issues(self, step: Any) -> list[Issue]: ...

    def can_advance(self, step: Any) -> bool: ...

    def ready(self, step: Any) -> bool: ...


def issues_html(issues: Iterable[Issue]) -> str:
    """Issues as small coloured lines (error, warning, info) for an inline label."""
    lines = []
    for issue in issues:
        text = f"{_ICONS[issue.severity]} {html.escape(issue.message, quote=False)}"
        if issue.remedy:
            text += f" <i>{html.escape(issue.remedy, quote=False)}</i>"
        lines.append(f"<span style='color:{_COLOURS[issue.severity]}'>{text}</span>")
    return "<br>".join(lines)


def inline_label(name: str = "") -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    if name:
        label.setObjectName(name)
    return label


class FlowPage(QWizardPage):
    """Completeness from the flow, inline issues by field prefix (``bind_issues``)."""

    step: Any

    def __init__(self, flow: StepFlow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = flow
        self.general = inline_label("issues")
        self._field_labels: dict[str, QLabel] = {}
        flow.subscribe(self._on_flow_changed)

    def bind_issues(self, prefix: str, label: QLabel) -> None:
        """Show issues whose field starts with ``prefix`` in ``label`` (longest prefix wins)."""
        self._field_labels[prefix] = label

    def _on_flow_changed(self) -> None:
        self.refresh()
        self.show_issues()
        self.completeChanged.emit()

    def refresh(self) -> None:
        """Bring the widgets in line with the flow (override)."""

    def show_issues(self) -> None:
        placed: dict[int, tuple[QLabel, list[Issue]]] = {
            id(label): (label, []) for label in self._field_labels.values()
        }
        rest: list[Issue] = []
        prefixes = sorted(self._field_labels, key=len, reverse=True)
        for issue in self.flow.issues(self.step):
            owner = next((p for p in prefixes if issue.field.startswith(p)), None)
            if owner is None:
                rest.append(issue)
            else:
                placed[id(self._field_labels[owner])][1].append(issue)
        for label, found in placed.values():
            label.setText(issues_html(found))
            label.setVisible(bool(found))
        self.general.setText(issues_html(rest))
        self.general.setVisible(bool(rest))

    def initializePage(self) -> None:
        self.refresh()
        self.show_issues()

    def isComplete(self) -> bool:
        return self.flow.can_advance(self.step)

    def validatePage(self) -> bool:
        return self.flow.can_advance(self.step)
