"""The window's session actions: sign in, sign out, settings; they swap the inventory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings

from pgflex_gui.composition import SettingsHolder
from pgflex_gui.domain.errors import Fault

__all__ = ["SessionActions"]


class SessionActions:
    """The File > Sign in…/Sign out and Tools > Settings… handlers, and what follows them.

    ``window`` is attached after the MainWindow is built (the handlers go into its constructor).
    """

    def __init__(
        self,
        *,
        session: Any,
        holder: SettingsHolder,
        tasks: Any,
        keystores: Any,
        inventory: Any,
        memory: QSettings,
    ) -> None:
        self.session = session
        self.holder = holder
        self.tasks = tasks
        self.keystores = keystores
        self.inventory = inventory
        self.memory = memory
        self.window: Any = None
        self.dialog: Any = None

    def handlers(self) -> dict[str, Callable[[Any], None]]:
        return {
            "sign-in": self.sign_in,
            "sign_in": self.sign_in,
            "sign-out": self.sign_out,
            "sign_out": self.sign_out,
            "settings": self.settings,
        }

    def attach(self, window: Any) -> None:
        self.window = window
        self.session.identity_changed.connect(self._on_session_identity_changed)
        self.session.signed_in.connect(self._on_session_signed_in)
        self.session.signed_out.connect(self._on_session_signed_out)
        self.session.tenant_signed_in.connect(self._on_session_tenant_signed_in)

    def _tenant_needing_sign_in(self, node: Any) -> str | None:
        """The tenant of ``node`` (or the selection) when listing it failed on sign-in."""
        from pgflex_gui.ui.tree.nodes import Failed, NodeKind

        if node is None and self.window is not None:
            node = self.window.tree.current_node()
        tenant = node.ancestor(NodeKind.TENANT) if node is not None else None
        if tenant is None or not isinstance(tenant.load_state, Failed):
            return None
        if tenant.load_state.error.fault is not Fault.PERMISSION:
            return None
        return getattr(tenant.ref, "tenant_id", None) or None

    def sign_in(self, node: Any) -> None:
        from pgflex_gui.ui.dialogs.sign_in import SignInDialog

        tenant = self._tenant_needing_sign_in(node)
        dialog = SignInDialog(
            self.session,
            settings=self.holder.get(),
            memory=self.memory,
            tenant_id=tenant,
            tenant_only=tenant is not None,
            parent=self.window,
        )
        self._show(dialog)

    def sign_out(self, _node: Any) -> None:
        self.session.sign_out()

    def _all_subscriptions(self) -> list[tuple[str, str, str]]:
        """(id, name, tenant) of every subscription of the session (on a worker)."""
        target = self.inventory.target
        lister = getattr(target, "all_subscriptions", None)
        if lister is None:
            return []
        return list(lister())

    def settings(self, _node: Any) -> None:
        from pgflex_gui.ui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.holder.get(),
            tasks=self.tasks,
            save=self.holder.save,
            keyring_info=self.keystores.describe,
            subscriptions=self._all_subscriptions,
            running_on=self.session.cloud_name() if hasattr(self.session, "cloud_name") else "",
            parent=self.window,
        )
        dialog.saved.connect(self._on_settings_saved)
        self._show(dialog)

    def _show(self, dialog: Any) -> None:
        from PySide6.QtCore import Qt

        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _refresh_root(self) -> None:
        from PySide6.QtCore import QModelIndex

        if self.window is not None:
            self.window.model.refresh(QModelIndex())

    def _on_session_identity_changed(self, cloud: str, account: str) -> None:
        if self.window is not None:
            self.window.set_identity(cloud=cloud, account=account)

    def _on_session_signed_in(self, session: Any) -> None:
        self.inventory.switch(session.inventory)
        self._refresh_root()

    def _on_session_signed_out(self) -> None:
        self.inventory.switch(None)
        self._refresh_root()

    def _on_session_tenant_signed_in(self, tenant_id: str) -> None:
        from pgflex_gui.ui.tree.nodes import NodeKind

        if self.window is None:
            return
        model = self.window.model
        for node in model.root.walk():
            if node.kind is NodeKind.TENANT and (
                getattr(node.ref, "tenant_id", "").lower() == tenant_id.lower()
            ):
                model.refresh(model.index_of(node))

    def _on_settings_saved(self, _settings: Any) -> None:
        if self.window is not None:
            self.window.presenter.show_notice(
                "Settings saved. Cloud changes apply at the next sign-in."
            )
            self._refresh_root()  # the subscription filter applies at once
