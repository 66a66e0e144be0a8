"""``--screenshot``: wait until the tree has loaded, show a server, save a PNG, quit."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QTimer

__all__ = ["SCREENSHOT_TIMEOUT_S", "screenshot_when_loaded"]

log = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_S = 180.0


def screenshot_when_loaded(
    window: Any, tasks: Any, path: str, *, timeout_s: float = SCREENSHOT_TIMEOUT_S
) -> None:
    """Wait for the tree, open a vault's instances, select a protected server, grab, quit.

    Polls the model's load states (never blocks the GUI thread); after ``timeout_s`` the
    window is grabbed as it is.
    """
    from PySide6.QtCore import QElapsedTimer

    from pgflex_gui.ui.tree.nodes import Loading, NodeKind, NotLoaded, ProtectionStatus

    model, proxy, tree = window.model, window.proxy, window.tree
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer(window)
    timer.setInterval(250)
    steps = ["tree", "vault", "instances", "points", "settle", "grab"]

    def busy() -> bool:
        nodes = model.root.walk()
        return (
            tasks.pending > 0
            or isinstance(model.root.load_state, NotLoaded | Loading)
            or any(isinstance(n.load_state, Loading) for n in nodes)
            or any(
                n.protection is not None and n.protection.status is ProtectionStatus.UNKNOWN
                for n in nodes
            )
        )

    def expand(node: Any) -> None:
        tree.expand(proxy.mapFromSource(model.index_of(node)))

    def showcase_server() -> Any:
        servers = [n for n in model.servers() if n.protection is not None]
        ranked = sorted(
            servers, key=lambda n: n.protection.status is not ProtectionStatus.PROTECTED
        )
        return ranked[0] if ranked else None

    def vault_of(server: Any) -> Any:
        name = server.protection.vault_name if server is not None else ""
        vaults = [n for n in model.root.walk() if n.kind is NodeKind.VAULT]
        return next((v for v in vaults if v.label == name), vaults[0] if vaults else None)

    def tick() -> None:
        timed_out = clock.elapsed() > timeout_s * 1000
        if timed_out:
            log.warning("Screenshot: still loading after %.0f s; grabbing as is", timeout_s)
            steps[:] = ["grab"]
        elif busy():
            return
        step = steps.pop(0)
        server = showcase_server()
        if step == "tree":
            for group in (n for n in model.root.walk() if n.kind is NodeKind.VAULTS_GROUP):
                if server is None or group.ancestor(NodeKind.SUBSCRIPTION) is server.ancestor(
                    NodeKind.SUBSCRIPTION
                ):
                    expand(group)
        elif step == "vault" and (vault := vault_of(server)) is not None:
            expand(vault)
        elif step == "instances" and (vault := vault_of(server)) is not None:
            for child in vault.children:
                if child.kind is NodeKind.INSTANCES_GROUP:
                    expand(child)
        elif step == "points" and (vault := vault_of(server)) is not None:
            for instance in vault.walk():
                if instance.kind is NodeKind.BACKUP_INSTANCE:
                    expand(instance)
                    break
        elif step == "settle":
            if server is not None:
                tree.setCurrentIndex(proxy.mapFromSource(model.index_of(server)))
                tree.scrollToTop()
            window.jobs.show_azure_tab()
        elif step == "grab":
            timer.stop()
            window.grab().save(path)
            log.info("Screenshot saved to %s after %.1f s", path, clock.elapsed() / 1000)
            window.close()

    timer.timeout.connect(tick)
    timer.start()
