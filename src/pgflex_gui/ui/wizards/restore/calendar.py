"""A month calendar whose days with recovery points are highlighted, coloured by their kind.

On a v2 or migrated instance each day says which kind of points it holds (v1 logical: blue,
v2 physical: green, unknown or mixed: amber; the tooltip says it in words).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from PySide6.QtCore import QDate, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QTextCharFormat
from PySide6.QtWidgets import QCalendarWidget, QWidget

__all__ = ["KIND_COLOURS", "RecoveryPointCalendar"]

KIND_COLOURS = {"v1": "#cce5ff", "v2": "#d4edda", "unknown": "#fff3cd"}
_KIND_WORDS = {"v1": "v1 (logical)", "v2": "v2 (physical)", "unknown": "kind unknown"}


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class RecoveryPointCalendar(QCalendarWidget):
    """Highlights the local days that hold at least one recovery point.

    Signals:
        day_chosen(object): a ``datetime.date`` the user clicked that has points.
    """

    day_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryPointCalendar")
        self.setGridVisible(True)
        self.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self._days: frozenset[date] = frozenset()
        self._kinds: dict[date, str] = {}
        self._format = QTextCharFormat()
        self._format.setBackground(QBrush(QColor("#cce5ff")))
        self._format.setFontWeight(QFont.Weight.Bold)
        self._format.setToolTip("Recovery points on this day")
        self.clicked.connect(self._on_self_clicked)

    def set_days(self, days: Iterable[date], kinds: Mapping[date, str] | None = None) -> None:
        """Highlight ``days`` (and clear the previous ones); show the newest day's month.

        ``kinds`` colours each day by the kind of its points ("v1", "v2", "unknown"); None
        (a v1 instance) keeps the one colour.
        """
        for day in self._days:
            self.setDateTextFormat(_qdate(day), QTextCharFormat())
        self._days = frozenset(days)
        self._kinds = dict(kinds or {})
        for day in self._days:
            kind = self._kinds.get(day)
            if kind is None:
                self.setDateTextFormat(_qdate(day), self._format)
                continue
            fmt = QTextCharFormat(self._format)
            fmt.setBackground(QBrush(QColor(KIND_COLOURS.get(kind, KIND_COLOURS["unknown"]))))
            fmt.setToolTip(f"Recovery points on this day: {_KIND_WORDS.get(kind, kind)}")
            self.setDateTextFormat(_qdate(day), fmt)
        if self._days:
            newest = max(self._days)
            self.setCurrentPage(newest.year, newest.month)

    def day_kind(self, day: date) -> str | None:
        """The kind the calendar marks ``day`` with (None: no kind marks, or no points)."""
        return self._kinds.get(day) if day in self._days else None

    def highlighted_days(self) -> frozenset[date]:
        """The days shown as having points."""
        return self._days

    def is_highlighted(self, day: date) -> bool:
        """True when the calendar paints ``day`` as a day with points."""
        fmt = self.dateTextFormat(_qdate(day))
        return fmt.fontWeight() == QFont.Weight.Bold

    def select_day(self, day: date) -> None:
        """Select ``day`` without emitting ``day_chosen``."""
        self.setSelectedDate(_qdate(day))

    def _on_self_clicked(self, qdate: QDate) -> None:
        day = date(qdate.year(), qdate.month(), qdate.day())
        if day in self._days:
            self.day_chosen.emit(day)
