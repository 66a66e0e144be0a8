"""The sign-in dialog: method, tenant, client id, cloud; secrets go to the keystore only.

The dialog validates as the user types (:func:`sign_in_issues`, Qt-free) and shows problems
inline. Signing in runs on a worker through :class:`~pgflex_gui.ui.session.SessionController`;
a device code appears in the dialog, failures appear in plain language under the form. The
choice is remembered per cloud in ``QSettings`` (never the secret).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.azure.auth import SignInMethod
from pgflex_gui.domain.cloud import CUSTOM, KNOWN_CLOUDS
from pgflex_gui.domain.errors import AppError
from pgflex_gui.ui.session import SessionController, SignInRequest

__all__ = ["CLOUD_NAMES", "DIALOG_METHODS", "SignInDialog", "https_url_issue", "sign_in_issues"]

log = logging.getLogger(__name__)

CLOUD_NAMES = (*KNOWN_CLOUDS, CUSTOM)
DIALOG_METHODS = tuple(m for m in SignInMethod if m is not SignInMethod.SANDBOX)
_REMEMBERED = ("method", "tenant_id", "client_id", "arm_endpoint", "authority_host", "ca_bundle")


def https_url_issue(text: str | None, what: str, *, required: bool) -> str | None:
    """Why ``text`` is not a usable https URL, or None when it is (or may be empty)."""
    value = (text or "").strip()
    if not value:
        return f"Enter the {what}." if required else None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        return f"The {what} must be an https:// address."
    return None


def sign_in_issues(request: SignInRequest) -> list[str]:
    """What keeps ``request`` from being tried, in plain words (empty when it is fine)."""
    issues: list[str] = []
    if request.cloud == CUSTOM:
        for issue in (
            https_url_issue(request.arm_endpoint, "ARM endpoint", required=True),
            https_url_issue(request.authority_host, "authority host", required=False),
        ):
            if issue:
                issues.append(issue)
    elif request.cloud not in KNOWN_CLOUDS:
        issues.append("Choose a cloud.")
    if request.ca_bundle and not Path(request.ca_bundle).is_file():
        issues.append("The CA bundle file does not exist.")
    method = SignInMethod(request.method)
    service_principal = method in (
        SignInMethod.SERVICE_PRINCIPAL_SECRET,
        SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE,
    )
    if (service_principal or request.tenant_only) and not request.tenant_id:
        issues.append("Enter the tenant id.")
    if service_principal and not request.client_id:
        issues.append("Enter the client (application) id.")
    if method is SignInMethod.SERVICE_PRINCIPAL_SECRET and not request.secret:
        issues.append("Enter the client secret.")
    if method is SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE:
        path = (request.certificate_path or "").strip()
        if not path:
            issues.append("Choose the certificate file (PEM with the private key).")
        elif not Path(path).is_file():
            issues.append("The certificate file does not exist.")
    return issues


def _opt(text: str) -> str | None:
    value = text.strip()
    return value or None


class SignInDialog(QDialog):
    """Sign in to Azure (or, with ``tenant_only``, to one more tenant that needs MFA/consent).

    Args:
        session: signs in off the GUI thread.
        settings: the current ``Settings`` (prefill: cloud, method, tenant, client id).
        memory: QSettings remembering the choice per cloud (None: not remembered).
        tenant_id: prefill (and, with ``tenant_only``, lock) the tenant.
        tenant_only: sign in to ``tenant_id`` only; the current session is kept.
    """

    def __init__(
        self,
        session: SessionController,
        *,
        settings: object = None,
        memory: QSettings | None = None,
        tenant_id: str | None = None,
        tenant_only: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SignInDialog")
        self._session = session
        self._memory = memory
        self._tenant_only = tenant_only
        self._waiting = False
        self.setWindowTitle(f"Sign in to tenant {tenant_id}" if tenant_only else "Sign in to Azure")
        self.setMinimumWidth(520)

        self.cloud = QComboBox()
        self.cloud.addItems(list(CLOUD_NAMES))
        self.arm_endpoint = QLineEdit()
        self.arm_endpoint.setPlaceholderText("https://management.example.com")
        self.authority_host = QLineEdit()
        self.authority_host.setPlaceholderText("https://login.example.com (optional)")
        self.ca_bundle = QLineEdit()
        self.ca_bundle.setPlaceholderText("PEM file of a private CA (optional)")
        self.method = QComboBox()
        for method in DIALOG_METHODS:
            self.method.addItem(method.label, method.value)
        self.tenant = QLineEdit()
        self.tenant.setPlaceholderText("Tenant id or domain (optional for personal sign-in)")
        self.client_id = QLineEdit()
        self.client_id.setPlaceholderText("Application (client) id")
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("Kept in the system keyring, never in settings")
        self.certificate = QLineEdit()
        self.certificate.setPlaceholderText("PEM file with certificate and private key")

        form = QFormLayout()
        form.addRow("Cloud", self.cloud)
        form.addRow("ARM endpoint", self.arm_endpoint)
        form.addRow("Authority host", self.authority_host)
        form.addRow("CA bundle", self._with_browse(self.ca_bundle, "Choose a CA bundle"))
        form.addRow("Method", self.method)
        form.addRow("Tenant", self.tenant)
        form.addRow("Client id", self.client_id)
        form.addRow("Client secret", self.secret)
        form.addRow("Certificate", self._with_browse(self.certificate, "Choose a certificate"))
        self._form = form

        self.device_code_label = QLabel()
        self.device_code_label.setObjectName("DeviceCode")
        self.device_code_label.setWordWrap(True)
        self.device_code_label.setOpenExternalLinks(True)
        self.device_code_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
        )
        self.device_code_label.setVisible(False)
        self.issues_label = QLabel()
        self.issues_label.setObjectName("Issues")
        self.issues_label.setWordWrap(True)
        self.issues_label.setStyleSheet("color: #b07d00;")
        self.error_label = QLabel()
        self.error_label.setObjectName("SignInError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.setVisible(False)
        self.status_label = QLabel()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.sign_in_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setText("Sign in")

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.device_code_label)
        layout.addWidget(self.issues_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

        self._prefill(settings, tenant_id)
        self._connect_signals()
        self._on_cloud_changed()
        self._on_method_changed()

    # -- building ---------------------------------------------------------------------------
    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse_file(edit, title))
        row.addWidget(button)
        return box

    def _browse_file(self, edit: QLineEdit, title: str) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, title, edit.text(), "PEM files (*.pem *.crt *.cer);;All files (*)"
        )
        if path:
            edit.setText(path)

    def _prefill(self, settings: object, tenant_id: str | None) -> None:
        cloud = getattr(settings, "cloud", None) or "AzureCloud"
        if cloud in CLOUD_NAMES:
            self.cloud.setCurrentText(cloud)
        self._recall(self.cloud.currentText())
        if settings is not None and not self._remembered(cloud):
            self._select_method(getattr(settings, "sign_in_method", None))
            self.tenant.setText(getattr(settings, "tenant_id", None) or "")
            self.client_id.setText(getattr(settings, "client_id", None) or "")
            self.arm_endpoint.setText(getattr(settings, "arm_endpoint", None) or "")
            self.authority_host.setText(getattr(settings, "authority_host", None) or "")
            self.ca_bundle.setText(getattr(settings, "ca_bundle", None) or "")
        if tenant_id:
            self.tenant.setText(tenant_id)
        if self._tenant_only:
            self.tenant.setReadOnly(True)
            self.cloud.setEnabled(False)
            self._select_method(SignInMethod.INTERACTIVE_BROWSER.value)

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.cloud.currentTextChanged.connect(self._on_cloud_changed)
        self.method.currentIndexChanged.connect(self._on_method_changed)
        for edit in (
            self.arm_endpoint,
            self.authority_host,
            self.ca_bundle,
            self.tenant,
            self.client_id,
            self.secret,
            self.certificate,
        ):
            edit.textChanged.connect(self._on_field_changed)
        self._session.signed_in.connect(self._on_session_signed_in)
        self._session.tenant_signed_in.connect(self._on_session_tenant_signed_in)
        self._session.sign_in_failed.connect(self._on_session_sign_in_failed)
        self._session.device_code.connect(self._on_session_device_code)

    def _disconnect_session(self) -> None:
        for signal, slot in (
            (self._session.signed_in, self._on_session_signed_in),
            (self._session.tenant_signed_in, self._on_session_tenant_signed_in),
            (self._session.sign_in_failed, self._on_session_sign_in_failed),
            (self._session.device_code, self._on_session_device_code),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    # -- values -----------------------------------------------------------------------------
    def _select_method(self, value: str | None) -> None:
        index = self.method.findData(value) if value else -1
        if index >= 0:
            self.method.setCurrentIndex(index)

    def current_method(self) -> SignInMethod:
        return SignInMethod(self.method.currentData())

    def request(self) -> SignInRequest:
        """The form as a :class:`SignInRequest` (holds the secret: never log it)."""
        method = self.current_method()
        custom = self.cloud.currentText() == CUSTOM
        return SignInRequest(
            method=method.value,
            cloud=self.cloud.currentText(),
            tenant_id=_opt(self.tenant.text()),
            client_id=_opt(self.client_id.text()),
            secret=(self.secret.text() or None)
            if method is SignInMethod.SERVICE_PRINCIPAL_SECRET
            else None,
            certificate_path=_opt(self.certificate.text())
            if method is SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE
            else None,
            arm_endpoint=_opt(self.arm_endpoint.text()) if custom else None,
            authority_host=_opt(self.authority_host.text()) if custom else None,
            ca_bundle=_opt(self.ca_bundle.text()),
            tenant_only=self._tenant_only,
        )

    def issues(self) -> list[str]:
        return sign_in_issues(self.request())

    # -- per-cloud memory (QSettings, never secrets) ------------------------------------------
    def _remembered(self, cloud: str) -> bool:
        return (
            self._memory is not None and self._memory.value(f"sign_in/{cloud}/method") is not None
        )

    def _recall(self, cloud: str) -> None:
        if not self._remembered(cloud):
            return
        assert self._memory is not None
        values = {k: str(self._memory.value(f"sign_in/{cloud}/{k}", "") or "") for k in _REMEMBERED}
        self._select_method(values["method"])
        self.tenant.setText(values["tenant_id"])
        self.client_id.setText(values["client_id"])
        self.arm_endpoint.setText(values["arm_endpoint"])
        self.authority_host.setText(values["authority_host"])
        self.ca_bundle.setText(values["ca_bundle"])

    def _remember(self, request: SignInRequest) -> None:
        if self._memory is None or request.tenant_only:
            return
        values = {
            "method": request.method,
            "tenant_id": request.tenant_id or "",
            "client_id": request.client_id or "",
            "arm_endpoint": request.arm_endpoint or "",
            "authority_host": request.authority_host or "",
            "ca_bundle": request.ca_bundle or "",
        }
        for key, value in values.items():
            self._memory.setValue(f"sign_in/{request.cloud}/{key}", value)
        self._memory.sync()

    # -- slots ------------------------------------------------------------------------------
    def _on_cloud_changed(self, cloud: str | None = None) -> None:
        if cloud is not None:
            self._recall(cloud)
        custom = self.cloud.currentText() == CUSTOM
        for widget in (self.arm_endpoint, self.authority_host):
            widget.setVisible(custom)
            label = self._form.labelForField(widget)
            if label is not None:
                label.setVisible(custom)
        self._on_field_changed()

    def _on_method_changed(self, _index: int = 0) -> None:
        method = self.current_method()
        secret = method is SignInMethod.SERVICE_PRINCIPAL_SECRET
        certificate = method is SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE
        for widget, shown in (
            (self.secret, secret),
            (self.certificate.parentWidget(), certificate),
        ):
            if widget is None:
                continue
            widget.setVisible(shown)
            label = self._form.labelForField(widget)
            if label is not None:
                label.setVisible(shown)
        self._on_field_changed()

    def _on_field_changed(self, _text: str = "") -> None:
        issues = self.issues()
        self.issues_label.setText("\n".join(issues))
        self.issues_label.setVisible(bool(issues))
        self.sign_in_button.setEnabled(not issues and not self._waiting)

    def _on_buttons_accepted(self) -> None:
        request = self.request()
        if sign_in_issues(request) or self._waiting:
            return
        self._waiting = True
        self.error_label.setVisible(False)
        self.device_code_label.setVisible(False)
        self.status_label.setText("Signing in… (a browser window may open)")
        self.sign_in_button.setEnabled(False)
        self._pending = request
        self._session.sign_in(request)

    def _finish_success(self) -> None:
        self._waiting = False
        request = getattr(self, "_pending", None)
        if request is not None:
            self._remember(request)
        self.secret.clear()
        self.accept()

    def _on_session_signed_in(self, _session: object) -> None:
        if self._waiting and not self._tenant_only:
            self._finish_success()

    def _on_session_tenant_signed_in(self, _tenant_id: str) -> None:
        if self._waiting and self._tenant_only:
            self._finish_success()

    def _on_session_sign_in_failed(self, error: object) -> None:
        if not self._waiting:
            return
        self._waiting = False
        self.status_label.clear()
        if isinstance(error, AppError):
            text = error.summary + (f"\n{error.remedy}" if error.remedy else "")
        else:
            text = str(error)
        self.error_label.setText(text)
        self.error_label.setToolTip(error.report() if isinstance(error, AppError) else "")
        self.error_label.setVisible(True)
        self._on_field_changed()

    def _on_session_device_code(self, uri: str, code: str) -> None:
        if not self._waiting:
            return
        self.device_code_label.setText(
            f'Open <a href="{uri}">{uri}</a> in a browser on any device and enter the code '
            f"<b>{code}</b>."
        )
        self.device_code_label.setVisible(True)
        self.status_label.setText("Waiting for the sign-in in the browser…")

    def done(self, result: int) -> None:
        if self._waiting:
            self._session.cancel_sign_in()
            self._waiting = False
        self._disconnect_session()
        super().done(result)
