"""The coverage panel: servers by protection status per subscription, and stale backups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from pgflex_gui.ui.status import STALE_COLOUR, is_stale, protection_colour
from pgflex_gui.ui.tree.nodes import NodeKind, ProtectionStatus, ResourceNode

__all__ = ["Coverage", "CoveragePanel", "compute_coverage"]

CHART_MIN_HEIGHT = 210

_ORDER = (
    (ProtectionStatus.PROTECTED, "Protected"),
    (ProtectionStatus.CONFIGURING, "Configuring"),
    (ProtectionStatus.SUSPENDED, "Suspended"),
    (ProtectionStatus.ERROR, "Error"),
    (ProtectionStatus.NOT_PROTECTED, "Not protected"),
    (ProtectionStatus.UNREADABLE, "Unknown"),
    (ProtectionStatus.UNKNOWN, "Checking"),
)


@dataclass
class Coverage:
    """Counts per subscription label, and the protected servers whose backups are stale."""

    by_subscription: dict[str, Counter[ProtectionStatus]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    overdue: Counter[str] = field(default_factory=Counter)  # stale ones, per subscription


def compute_coverage(servers: Iterable[ResourceNode], *, now: datetime | None = None) -> Coverage:
    """Qt-free tally over server nodes."""
    now = now or datetime.now(UTC)
    out = Coverage()
    for node in servers:
        if node.kind is not NodeKind.SERVER or node.protection is None:
            continue
        sub = node.ancestor(NodeKind.SUBSCRIPTION)
        label = sub.label if sub is not None else "?"
        counts = out.by_subscription.setdefault(label, Counter())
        if node.protection.status is ProtectionStatus.PROTECTED and is_stale(
            node.protection.last_backup, now=now
        ):
            out.stale.append(node.label)
            out.overdue[label] += 1  # amber, not green (status.server_colour)
        else:
            counts[node.protection.status] += 1
    return out


class CoveragePanel(QWidget):
    """A horizontal stacked bar per subscription; call :meth:`refresh` when statuses change."""

    def __init__(
        self,
        servers: Callable[[], list[ResourceNode]],
        *,
        now: Callable[[], datetime] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._servers = servers
        self._now = now or (lambda: datetime.now(UTC))
        self.coverage = Coverage()
        self._chart = QChart()
        self._chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self._chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self._chart.setTitle("Servers by protection status")
        self._view = QChartView(self._chart)
        self._view.setRenderHint(QPainter.RenderHint.Antialiasing)
        # tall enough that Qt Charts keeps the subscription names and counts (1024×700)
        self._chart.setMargins(QMargins(2, 2, 2, 2))
        self._chart.layout().setContentsMargins(0, 0, 0, 0)
        self._view.setMinimumHeight(CHART_MIN_HEIGHT)
        self._stale = QLabel()
        self._stale.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._view, 1)
        layout.addWidget(self._stale)
        self.refresh()

    def refresh(self) -> None:
        self.coverage = compute_coverage(self._servers(), now=self._now())
        chart = self._chart
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        labels = sorted(self.coverage.by_subscription)
        series = QHorizontalStackedBarSeries()
        rows = [
            (
                words,
                protection_colour(status),
                [self.coverage.by_subscription[s][status] for s in labels],
            )
            for status, words in _ORDER
        ]
        overdue = [self.coverage.overdue[s] for s in labels]
        rows.insert(1, ("Backup overdue", STALE_COLOUR, overdue))
        for words, colour, values in rows:
            if not any(values):
                continue
            bar = QBarSet(words)
            bar.setColor(QColor(colour))
            bar.append([float(v) for v in values])
            series.append(bar)
        chart.addSeries(series)
        cats = QBarCategoryAxis()
        cats.append(labels or ["(no servers loaded)"])
        chart.addAxis(cats, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(cats)
        values_axis = QValueAxis()
        top = max(
            (
                sum(c.values()) + self.coverage.overdue[s]
                for s, c in self.coverage.by_subscription.items()
            ),
            default=1,
        )
        values_axis.setRange(0, max(1, top))
        values_axis.setTickType(QValueAxis.TickType.TicksDynamic)
        values_axis.setTickInterval(1 if top <= 10 else 5)
        values_axis.setLabelFormat("%d")
        chart.addAxis(values_axis, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(values_axis)
        stale = self.coverage.stale
        if stale:
            self._stale.setText(
                f"<b>{len(stale)}</b> protected server(s) with no recovery point in the last "
                f"8 days: {', '.join(sorted(stale))}"
            )
        elif not any(c[ProtectionStatus.PROTECTED] for c in self.coverage.by_subscription.values()):
            self._stale.setText("No protected servers loaded yet.")
        else:
            self._stale.setText(
                "No stale recovery points (all protected servers backed up within 8 days)."
            )
