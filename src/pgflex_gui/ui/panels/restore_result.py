"""The result of a successful restore: what was restored, how to connect, the report.

Opened when a restore succeeds (and from its job row). It lists each database with its
tables, rows and time; gives the connection string to copy; shows the generated admin
password only after the user confirms (read from the keyring off the GUI thread, copied to
the clipboard on request and cleared from it again); opens or exports the report; and opens
psql (in a terminal) or pgAdmin on the new server.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.connection import pgadmin_servers_json
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.restore_summary import RestoreSummary, duration_words
from pgflex_gui.postgres.clients import Launch, find_pgadmin, pgadmin_launch, psql_launch
from pgflex_gui.ui.tasks import TaskManager

__all__ = ["RestoreResultDialog", "start_detached"]

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CLIPBOARD_CLEAR_MS = 45_000  # a copied password leaves the clipboard again after this


def start_detached(launch: Launch) -> str:
    """Start ``launch`` detached; "" when started, else why not."""
    if not launch.ok:
        return launch.problem
    process = QProcess()
    process.setProgram(launch.program)
    process.setArguments(list(launch.args))
    if launch.env:
        env = QProcessEnvironment.systemEnvironment()
        for key, value in launch.env.items():
            env.insert(key, value)
        process.setProcessEnvironment(env)
    answer: object = process.startDetached()  # PySide6: a bool (some builds: (bool, pid))
    started = answer[0] if isinstance(answer, tuple) else answer
    return "" if started else f"{Path(launch.program).name} could not be started."


class RestoreResultDialog(QDialog):
    """Non-modal result of one restore.

    Signals:
        show_server_requested(str): the restored server's ARM id.
    """

    show_server_requested = Signal(str)
    COLUMNS = ("Database", "Tables", "Rows", "Time", "Owners")

    def __init__(
        self,
        job_id: str,
        title: str,
        summary: RestoreSummary,
        *,
        tasks: TaskManager,
        read_secret: Callable[[str], str | None] | None = None,
        psql: Callable[[], Path | None] | None = None,
        launch: Callable[[Launch], str] = start_detached,
        open_url: Callable[[QUrl], object] = QDesktopServices.openUrl,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.summary = summary
        self._tasks = tasks
        self._read_secret = read_secret
        self._psql = psql or _psql_on_path
        self._launch = launch
        self._open_url = open_url
        self._password: str | None = None
        self.confirm_box: QMessageBox | None = None
        self.setWindowTitle(f"Result: {title}")
        self.setObjectName("restoreResult")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(640)
        conn = summary.connection
        server = conn.server_name if conn is not None else ""

        self.headline = QLabel(summary.outcome.headline)
        self.headline.setObjectName("headline")
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet("font-size: 14pt; font-weight: bold; color: #2e8b57;")
        took = duration_words(summary.elapsed_s)
        rows = f"{summary.total_rows:,}".replace(",", " ")
        self.overview = QLabel(f"Into {server or 'the target server'} in {took}; {rows} rows.")
        self.overview.setObjectName("overview")

        self.table = QTableWidget(len(summary.databases), len(self.COLUMNS))
        self.table.setObjectName("databases")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, db in enumerate(summary.databases):
            time_text = "earlier run" if db.resumed else duration_words(db.seconds)
            cells = (db.name, str(db.tables), f"{db.rows:,}".replace(",", " "), time_text,
                     db.owners_words)  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (1, 2):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, item)
        self.table.setMaximumHeight(60 + 28 * max(1, len(summary.databases)))

        self.notes = QLabel("<br>".join(_escape(n) for n in summary.notes))
        self.notes.setObjectName("notes")
        self.notes.setWordWrap(True)
        self.notes.setVisible(bool(summary.notes))

        form = QFormLayout()
        self.conninfo = QLineEdit(conn.libpq(self._first_db()) if conn is not None else "")
        self.conninfo.setObjectName("conninfo")
        self.conninfo.setReadOnly(True)
        self.conninfo.setCursorPosition(0)
        copy_conn = QPushButton("Copy")
        copy_conn.setObjectName("copyConninfo")
        copy_conn.clicked.connect(self._on_copy_conninfo_clicked)
        conn_row = QHBoxLayout()
        conn_row.addWidget(self.conninfo, 1)
        conn_row.addWidget(copy_conn)
        form.addRow("Connection:", conn_row)

        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setReadOnly(True)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.reveal = QPushButton("Reveal…")
        self.reveal.setObjectName("reveal")
        self.copy_password = QPushButton("Copy password")
        self.copy_password.setObjectName("copyPassword")
        self.copy_password.setEnabled(False)
        self.reveal.clicked.connect(self._on_reveal_clicked)
        self.copy_password.clicked.connect(self._on_copy_password_clicked)
        if conn is None or not conn.password_entry or read_secret is None:
            self.password.setPlaceholderText("not kept by this app")
            self.reveal.setEnabled(False)
            self.reveal.setToolTip("This app did not create the server, so it has no password.")
        else:
            self.password.setPlaceholderText("hidden: kept in the keyring")
            word = "generated by this restore" if conn.password_generated else "from the keyring"
            self.reveal.setToolTip(f"Show the admin password ({word}) after you confirm.")
        pw_row = QHBoxLayout()
        pw_row.addWidget(self.password, 1)
        pw_row.addWidget(self.reveal)
        pw_row.addWidget(self.copy_password)
        form.addRow(f"Admin ({conn.user if conn else '?'}):", pw_row)

        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)

        self.open_report = QPushButton("Open report")
        self.open_report.setObjectName("openReport")
        self.export_report = QPushButton("Export report…")
        self.export_report.setObjectName("exportReport")
        has_report = bool(summary.report_html) and Path(summary.report_html).is_file()
        for button in (self.open_report, self.export_report):
            button.setEnabled(has_report)
            if not has_report:
                button.setToolTip("No report was written for this job.")
        self.open_report.clicked.connect(self._on_open_report_clicked)
        self.export_report.clicked.connect(self._on_export_report_clicked)
        self.show_server = QPushButton("Show in tree")
        self.show_server.setObjectName("showServer")
        self.show_server.setEnabled(bool(summary.target_server_id))
        self.show_server.clicked.connect(self._on_show_server_clicked)
        self.open_psql = QPushButton("Open psql")
        self.open_psql.setObjectName("openPsql")
        self.open_psql.clicked.connect(self._on_open_psql_clicked)
        self.open_pgadmin = QPushButton("Open pgAdmin")
        self.open_pgadmin.setObjectName("openPgadmin")
        self.open_pgadmin.clicked.connect(self._on_open_pgadmin_clicked)
        self._pgadmin = find_pgadmin()
        if self._pgadmin is None:
            self.open_pgadmin.setEnabled(False)
            self.open_pgadmin.setToolTip("pgAdmin 4 is not installed on this computer.")
        if conn is None:
            for button in (self.open_psql, self.open_pgadmin):
                button.setEnabled(False)
                button.setToolTip("The restore did not record where the server is.")
        self.clipboard_timer = QTimer(self)
        self.clipboard_timer.setSingleShot(True)
        self.clipboard_timer.setInterval(CLIPBOARD_CLEAR_MS)
        self.clipboard_timer.timeout.connect(self._on_clipboard_timer_timeout)

        actions = QHBoxLayout()
        for button in (self.open_psql, self.open_pgadmin, self.show_server):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.open_report)
        actions.addWidget(self.export_report)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.overview)
        layout.addWidget(self.table)
        layout.addWidget(self.notes)
        layout.addLayout(form)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    # -- what the tests and the user read ---------------------------------------------------
    def rows(self) -> list[tuple[str, ...]]:
        """The databases table, row by row."""
        out = []
        for row in range(self.table.rowCount()):
            cells = [self.table.item(row, c) for c in range(len(self.COLUMNS))]
            out.append(tuple(c.text() if c is not None else "" for c in cells))
        return out

    def _first_db(self) -> str:
        restored = self.summary.outcome.restored
        return restored[0] if restored else "postgres"

    # -- connection and password ------------------------------------------------------------
    def _on_copy_conninfo_clicked(self) -> None:
        QApplication.clipboard().setText(self.conninfo.text())
        self.status.setText("Connection string copied (it holds no password).")

    def _on_reveal_clicked(self) -> None:
        conn = self.summary.connection
        if conn is None:
            return
        box = QMessageBox(self)
        box.setObjectName("revealConfirm")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Show the admin password?")
        box.setText(f"Show the admin password of {conn.server_name or conn.host}?")
        box.setInformativeText(
            "Anyone who can see your screen can read it. It stays in the keyring; "
            "this app never writes it to a file or a log."
        )
        show = box.addButton("Show password", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)

        def on_done(_result: int) -> None:
            if box.clickedButton() is show:
                self._load_password(conn.password_entry)

        box.finished.connect(on_done)
        box.destroyed.connect(self._on_confirm_destroyed)
        self.confirm_box = box
        box.open()

    def _on_confirm_destroyed(self, _obj: object = None) -> None:
        self.confirm_box = None

    def _load_password(self, entry: str) -> None:
        read = self._read_secret
        if read is None:
            return
        self.reveal.setEnabled(False)
        self.status.setText("Reading the password from the keyring…")
        self._tasks.task(read, entry).in_lane("settings").keyed(("reveal", self.job_id)).on_success(
            self._on_password
        ).on_failure(self._on_password_failed).start()

    def _on_password(self, password: object) -> None:
        if not isinstance(password, str) or not password:
            self.status.setText(
                "The keyring has no password for this server. Reset it in the Azure portal."
            )
            self.reveal.setEnabled(True)
            return
        self._password = password
        self.password.setText(password)
        self.password.setEchoMode(QLineEdit.EchoMode.Normal)
        self.copy_password.setEnabled(True)
        self.status.setText("")

    def _on_password_failed(self, error: AppError) -> None:
        self.reveal.setEnabled(True)
        self.status.setText(f"The keyring could not be read: {error.summary}")

    def _on_copy_password_clicked(self) -> None:
        if self._password:
            QApplication.clipboard().setText(self._password)
            self.clipboard_timer.start()
            seconds = CLIPBOARD_CLEAR_MS // 1000
            self.status.setText(f"Password copied; the clipboard is cleared in {seconds} s.")

    def _on_clipboard_timer_timeout(self) -> None:
        self._clear_clipboard()

    def _clear_clipboard(self) -> None:
        clipboard = QApplication.clipboard()
        if self._password and clipboard.text() == self._password:
            clipboard.clear()

    def done(self, result: int) -> None:
        # Closing also takes a copied password off the clipboard.
        self.clipboard_timer.stop()
        self._clear_clipboard()
        super().done(result)

    # -- report -----------------------------------------------------------------------------
    def _on_open_report_clicked(self) -> None:
        self._open_url(QUrl.fromLocalFile(self.summary.report_html))

    def _on_export_report_clicked(self) -> None:
        start = str(Path.home() / f"{Path(self.summary.report_html).parent.name}.html")
        dialog = QFileDialog(self, "Export the restore report", start, "HTML (*.html)")
        dialog.setObjectName("exportDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("html")
        dialog.fileSelected.connect(self._on_export_file_selected)
        dialog.open()

    def _on_export_file_selected(self, path: str) -> None:
        self.export_to(Path(path))

    def export_to(self, path: Path) -> Path:
        """Copy the HTML report to ``path`` and its JSON beside it (same name, .json)."""
        html_src = Path(self.summary.report_html)
        path = path if path.suffix else path.with_suffix(".html")
        try:
            shutil.copyfile(html_src, path)
            if self.summary.report_json and Path(self.summary.report_json).is_file():
                shutil.copyfile(self.summary.report_json, path.with_suffix(".json"))
        except OSError as exc:
            self.status.setText(f"The report could not be exported: {exc.strerror or exc}")
            return path
        self.status.setText(f"Report exported to {path} (and {path.with_suffix('.json').name}).")
        return path

    # -- tree, psql, pgAdmin ----------------------------------------------------------------
    def _on_show_server_clicked(self) -> None:
        self.show_server_requested.emit(self.summary.target_server_id)

    def _on_open_psql_clicked(self) -> None:
        conn = self.summary.connection
        if conn is None:
            return
        launch = psql_launch(self._psql(), conn.libpq(self._first_db()), password=self._password)
        problem = self._launch(launch)
        if problem:
            self.status.setText(f"psql could not be opened: {problem}")
        elif not self._password and conn.password_entry:
            self.status.setText("psql opened; it asks for the password (Reveal… to see it).")
        else:
            self.status.setText(launch.note or "psql opened in a terminal window.")

    def _on_open_pgadmin_clicked(self) -> None:
        conn = self.summary.connection
        if conn is None:
            return
        folder = Path(self.summary.report_html).parent if self.summary.report_html else Path.home()
        servers = folder / "pgadmin-servers.json"
        try:
            servers.write_text(pgadmin_servers_json(conn), encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"The pgAdmin server file could not be written: {exc}")
            return
        launch = pgadmin_launch(self._pgadmin, servers)
        problem = self._launch(launch)
        self.status.setText(f"pgAdmin could not be opened: {problem}" if problem else launch.note)


def _psql_on_path() -> Path | None:
    found = shutil.which("psql")
    return Path(found) if found else None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
