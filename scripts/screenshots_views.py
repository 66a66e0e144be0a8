"""Retake the docs/ screenshots of the main window and the policy wizard only (no restores).

Run under Xvfb inside a D-Bus session, like ``scripts/screenshots.py``::

    PGFLEX_SANDBOX_DIR=$(mktemp -d) xvfb-run -a -s "-screen 0 1400x900x24" \\
        .venv/bin/python scripts/screenshots_views.py docs

It grabs the main window at 1400x900 (screenshot-main.png) and at 1024x700
(screenshot-main-1024x700.png), then the policy wizard for an unprotected server: the vault
page, the policy page while creating a policy (its calendar), and the permissions page.
"""

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWizard

import pgflex_gui.app as A
from pgflex_gui.domain.retention import RetentionKind

OUT = sys.argv[1] if len(sys.argv) > 1 else "docs"
orig = A.screenshot_when_loaded


def patched(window, tasks, path, **kw):
    real_close = window.close

    def later(ms, fn):
        QTimer.singleShot(ms, window, fn)

    def small():
        window.resize(1024, 700)
        later(800, lambda: (window.grab().save(f"{OUT}/screenshot-main-1024x700.png"), policy()))

    def policy():
        window.resize(1400, 900)
        node = next(n for n in window.model.servers() if n.label == "pg-unprotected-weu")
        window._handlers["configure-backup"](node)
        later(3000, vault_page)

    def wizard():
        return next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, QWizard) and w.isVisible()),
            None,
        )

    def vault_page():
        w = wizard()
        if w is None:
            real_close()
            return
        w.resize(960, 680)
        QApplication.processEvents()
        w.grab().save(f"{OUT}/screenshot-wizard-policy-vault.png")
        w.next()
        later(2000, policy_page)

    def policy_page():
        w = wizard()
        page = w.policy_page
        page.create_new.setChecked(True)
        page.rows[RetentionKind.MONTHLY].enabled.setChecked(True)
        later(800, lambda: (w.grab().save(f"{OUT}/screenshot-wizard-policy.png"), preflight(w)))

    def preflight(w):
        w.next()
        later(2500, lambda: permissions(w))

    def permissions(w):
        w.next()
        later(2500, lambda: (w.grab().save(f"{OUT}/screenshot-wizard-policy-permissions.png"),
                             w.close(), real_close()))  # fmt: skip

    def after_main():
        later(0, small)
        return True

    window.close = after_main
    orig(window, tasks, path, **kw)


if __name__ == "__main__":
    A.screenshot_when_loaded = patched
    sys.exit(
        A.run(["--sandbox", "--seed", "default", "--screenshot", f"{OUT}/screenshot-main.png"])
    )
