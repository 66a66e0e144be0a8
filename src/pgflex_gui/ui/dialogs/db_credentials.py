"""Ask for a server's admin login to list its databases (the pre-flight's excluded databases).

The host comes from the server's FQDN (the loopback sandbox: 127.0.0.1 and the
``sandbox-port`` tag), the login from its administrator login. The password goes only into
the query (the psql child's environment); it is stored in the keyring only when the user ticks
"Remember in the keyring", and never in settings or logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.models import FlexServer
from pgflex_gui.jobs.manage import server_endpoint
from pgflex_gui.postgres.psql import ConnParams

__all__ = ["DbCredentials", "DbCredentialsDialog", "credential_issues"]


@dataclass(frozen=True)
class DbCredentials:
    """Where to connect and the password (kept out of ``repr``)."""

    conn: ConnParams
    password: str = field(repr=False)
    remember: bool = False


def credential_issues(host: str, user: str, password: str) -> list[str]:
    """What is missing before the query can run (empty when nothing is)."""
    issues = []
    if not host.strip():
        issues.append("Enter the server's host name.")
    if not user.strip():
        issues.append("Enter the admin login.")
    if not password:
        issues.append("Enter the password.")
    return issues


class DbCredentialsDialog(QDialog):
    """Host, port, admin login and password for one server; "remember" is opt-in."""

    def __init__(
        self,
        server: FlexServer,
        parent: QWidget | None = None,
        *,
        can_remember: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("DbCredentialsDialog")
        self.setMinimumWidth(520)  # its note and the issues wrap into a few lines, not a column
        self.setWindowTitle(f"Databases of {server.name}")
        self.server = server
        host, port, self._sslmode = server_endpoint(server)
        self.host = QLineEdit(host)
        self.host.setObjectName("host")
        self.port = QSpinBox()
        self.port.setObjectName("port")
        self.port.setRange(1, 65535)
        self.port.setValue(port)
        self.user = QLineEdit(server.administrator_login)
        self.user.setObjectName("user")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox("Remember the password in the keyring")
        self.remember.setObjectName("remember")
        self.remember.setEnabled(can_remember)
        self.issues = QLabel()
        self.issues.setObjectName("issues")
        self.issues.setWordWrap(True)
        note = QLabel(
            "The password is used only for this query, to list the databases and their "
            "owners. It is not saved unless you tick the box."
        )
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Host:", self.host)
        form.addRow("Port:", self.port)
        form.addRow("Admin login:", self.user)
        form.addRow("Password:", self.password)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("List databases")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.remember)
        layout.addWidget(self.issues)
        layout.addWidget(self.buttons)
        for edit in (self.host, self.user, self.password):
            edit.textChanged.connect(self._on_field_changed)
        self._on_field_changed()

    def _problems(self) -> list[str]:
        return credential_issues(self.host.text(), self.user.text(), self.password.text())

    def _on_field_changed(self, *_args: object) -> None:
        problems = self._problems()
        self.issues.setText(" ".join(problems))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)

    def credentials(self) -> DbCredentials | None:
        """What the user entered, or None while something is missing."""
        if self._problems():
            return None
        conn = ConnParams(
            host=self.host.text().strip(),
            port=self.port.value(),
            user=self.user.text().strip(),
            dbname="postgres",
            sslmode=self._sslmode,
        )
        return DbCredentials(conn, self.password.text(), self.remember.isChecked())
