"""Regenerate the screenshots in docs/ from the live app against a fresh sandbox.

Run under a real X server (Xvfb), e.g.::

    PGFLEX_SANDBOX_DIR=$(mktemp -d) xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshots.py docs

It loads the default seed, grabs the main window, runs "Backup now" on every protected
server and grabs the Azure Backup jobs, then opens the restore wizard and grabs its first
two pages, then the policy wizard for an unprotected server (vault and policy pages).
"""

import logging
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWizard

import pgflex_gui.app as A
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.jobs.protect import AdhocBackupJob, ServicePort
from pgflex_gui.ui.tree.nodes import ProtectionStatus

OUT = sys.argv[1] if len(sys.argv) > 1 else "docs"
log = logging.getLogger("extra")
orig = A.screenshot_when_loaded


def patched(window, tasks, path, **kw):
    real_close = window.close
    actions = window._handlers["backup-now"].__self__

    def later(ms, fn):
        QTimer.singleShot(ms, window, fn)

    def stage_jobs():
        svc = actions._services()
        protected = [
            n
            for n in window.model.servers()
            if n.protection and n.protection.status is ProtectionStatus.PROTECTED
        ]
        for node in protected:
            job = AdhocBackupJob(
                ServicePort(svc.protection, svc.inventory),
                ResourceId.parse(node.protection.instance_id),
                retention=RetentionKind.DEFAULT,
            )
            actions._runner.submit(job, "arm-write")
        later(2500, refresh)

    def refresh():
        window.jobs.azure_jobs_loaded.connect(lambda _r: later(600, grab_jobs))
        window.jobs.refresh_azure_jobs()

    def grab_jobs():
        window.jobs.azure_jobs_loaded.disconnect()
        table = window.jobs._azure
        proxy = window.jobs.azure_filter
        rows = [proxy.index(r, 0) for r in range(proxy.rowCount())]
        failed = [i for i in rows if i.siblingAtColumn(2).data() == "Failed"]
        if rows:
            index = (failed or rows)[0]
            table.setCurrentIndex(index)
            table.clicked.emit(index)
        later(300, lambda: (window.grab().save(f"{OUT}/screenshot-jobs.png"), stage_wizard()))

    def stage_wizard():
        protected = [
            n
            for n in window.model.servers()
            if n.protection and n.protection.status is ProtectionStatus.PROTECTED
        ]
        # The seeded source server has real data and storage accounts in its region.
        node = next((n for n in protected if n.label == "pg-src-weu"), protected[0])
        window._handlers["restore"](node)
        later(4000, grab_wizard)

    def grab_wizard():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QWizard) and w.isVisible():
                w.resize(900, 620)
                from PySide6.QtWidgets import QListWidget

                for lst in w.findChildren(QListWidget):
                    if lst.isVisible() and lst.count():
                        lst.setCurrentRow(0)
                QApplication.processEvents()
                w.grab().save(f"{OUT}/screenshot-wizard-restore.png")
                w.next()
                later(
                    3000,
                    lambda w=w: (
                        w.grab().save(f"{OUT}/screenshot-wizard-restore-target.png"),
                        w.close(),
                        stage_policy(),
                    ),
                )
                return
        stage_policy()

    def stage_policy():
        node = next(n for n in window.model.servers() if n.label == "pg-unprotected-weu")
        window._handlers["configure-backup"](node)
        later(3000, grab_policy)

    def grab_policy():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QWizard) and w.isVisible():
                w.resize(960, 680)
                QApplication.processEvents()
                w.grab().save(f"{OUT}/screenshot-wizard-policy-vault.png")
                w.next()
                later(
                    2000,
                    lambda w=w: (
                        w.grab().save(f"{OUT}/screenshot-wizard-policy.png"),
                        done(w),
                    ),
                )
                return
        done(None)

    def done(w):
        if w is not None:
            w.close()
        real_close()

    def after_main():
        later(0, stage_jobs)
        return True

    window.close = after_main
    orig(window, tasks, path, **kw)


if __name__ == "__main__":
    A.screenshot_when_loaded = patched
    sys.exit(
        A.run(["--sandbox", "--seed", "default", "--screenshot", f"{OUT}/screenshot-main.png"])
    )
