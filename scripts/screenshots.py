"""Regenerate the screenshots in docs/ from the live app against a fresh sandbox.

Run under a real X server (Xvfb), e.g.::

    PGFLEX_SANDBOX_DIR=$(mktemp -d) xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshots.py docs

(inside ``dbus-run-session`` with an unlocked keyring, so a pasted SAS has somewhere to go).
It loads the default seed, grabs the main window, runs "Backup now" on every protected
server and grabs the Azure Backup jobs; then the restore wizard from the source server: every
page, a real restore (progress, then succeeded and its result view), one cancelled (the
confirmation, then the offer to delete what it made), one with an expired pasted SAS
(the failed row and its details); Tools > Restore… with nothing selected (files already
there: the source page, the new-server and the existing-server choices); then the policy
wizard for an unprotected server (vault and policy pages).
"""

import logging
import shutil
import sys
import tempfile

from PySide6.QtCore import QModelIndex, QTimer
from PySide6.QtWidgets import QApplication, QWizard

import pgflex_gui.app as A
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.jobs.protect import AdhocBackupJob, ServicePort
from pgflex_gui.ui.tree.nodes import ProtectionStatus

OUT = sys.argv[1] if len(sys.argv) > 1 else "docs"
SCRATCH = (
    ""  # download folders, made in the GUI process (not in a spawned child); removed at the end
)
EXPIRED_SAS = "sv=2020-10-02&sr=c&sp=rl&se=2020-01-01T00:00:00Z&sig=AAAA"
log = logging.getLogger("extra")
orig = A.screenshot_when_loaded


def patched(window, tasks, path, **kw):
    global SCRATCH
    SCRATCH = tempfile.mkdtemp(prefix="pgflex-shots-")
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
                label=node.label,  # as the app names it (instance names end in a GUID)
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

    def wait_for(cond, then, timeout_ms=600_000, step_ms=200):
        """Poll ``cond`` on the GUI thread, then call ``then`` (or give up and go on)."""
        left = {"ms": timeout_ms}

        def poll():
            if cond():
                then()
            elif left["ms"] <= 0:
                log.warning("screenshots: gave up waiting; going on")
                then()
            else:
                left["ms"] -= step_ms
                later(step_ms, poll)

        later(step_ms, poll)

    def shoot(widget, name):
        QApplication.processEvents()
        widget.grab().save(f"{OUT}/{name}")

    def open_wizard():
        return next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, QWizard) and w.isVisible()),
            None,
        )

    def choose(combo, starts):
        for i in range(combo.count()):
            if combo.itemText(i).startswith(starts):
                combo.setCurrentIndex(i)
                return True
        return False

    def has(combo, starts):
        return any(combo.itemText(i).startswith(starts) for i in range(combo.count()))

    def rows():
        return window.jobs.model.rows()

    def grab_wizard():
        w = open_wizard()
        if w is None:
            stage_policy()
            return
        w.resize(960, 720)
        src = w.source_page
        if src.points.count():
            src.points.setCurrentRow(0)
        shoot(w, "screenshot-wizard-restore.png")
        w.next()
        page = w.container_page
        wait_for(lambda: has(page.accounts, "stpgrestoreweu"), lambda: container_1(w))

    def container_1(w):
        page = w.container_page
        choose(page.accounts, "stpgrestoreweu")
        wait_for(lambda: has(page.containers, "restores"), lambda: container_2(w))

    def container_2(w):
        page = w.container_page
        choose(page.containers, "restores")
        wait_for(page.isComplete, lambda: later(300, lambda: server_1(w)), timeout_ms=20_000)

    def server_1(w):
        shoot(w, "screenshot-wizard-restore-target.png")
        w.next()
        page = w.server_page
        page.name.setText("pg-src-weu-restored")
        page.download.setText(f"{SCRATCH}/download-1")
        wait_for(page.isComplete, lambda: later(500, lambda: summary(w)), timeout_ms=30_000)

    def summary(w):
        shoot(w, "screenshot-wizard-restore-server.png")
        w.next()
        later(300, lambda: (shoot(w, "screenshot-wizard-restore-summary.png"), commit(w)))

    def commit(w):
        count = len(rows())
        w.accept()  # "Restore"
        wait_for(lambda: len(rows()) > count, progress_1, timeout_ms=30_000)

    def show(job_id):
        # The source server in the tree and details, the restore's row in the jobs.
        node = next(n for n in window.model.servers() if n.label == "pg-src-weu")
        window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(node)))
        window.jobs.show_job(job_id)

    def progress_1():
        show(rows()[-1].job_id)
        row = rows()[-1]
        # A moment when databases are on their way (not the first "Validating…").
        wait_for(
            lambda: not rows()[-1].active or (rows()[-1].fraction or 0) > 0.3,
            lambda: (shoot(window, "screenshot-restore-progress.png"), succeeded(row.job_id)),
        )

    def succeeded(job_id):
        wait_for(
            lambda: not next(r for r in rows() if r.job_id == job_id).active,
            lambda: later(1500, lambda: result(job_id)),
        )

    def result(job_id):
        # The result view opened by itself; the new server is selected in the tree.
        dialog = window.jobs.result_dialog
        shoot(window, "screenshot-restore-succeeded.png")
        if dialog is not None:
            dialog.resize(760, 520)
            shoot(dialog, "screenshot-restore-result.png")
            dialog.close()
        stage_cancel()

    def stage_cancel():
        node = next(n for n in window.model.servers() if n.label == "pg-src-weu")
        window._handlers["restore"](node)
        later(4000, cancel_1)

    def cancel_1():
        w = open_wizard()
        if w is None:
            stage_failed()
            return
        w.source_page.points.setCurrentRow(0)
        w.next()
        page = w.container_page
        wait_for(lambda: has(page.accounts, "stpgrestoreweu"), lambda: cancel_2(w))

    def cancel_2(w):
        page = w.container_page
        choose(page.accounts, "stpgrestoreweu")
        wait_for(lambda: has(page.containers, "restores"), lambda: cancel_3(w))

    def cancel_3(w):
        page = w.container_page
        choose(page.containers, "restores")
        wait_for(page.isComplete, lambda: cancel_4(w), timeout_ms=20_000)

    def cancel_4(w):
        w.next()
        page = w.server_page
        page.name.setText("pg-src-weu-cancelled")
        page.download.setText(f"{SCRATCH}/download-4")
        wait_for(page.isComplete, lambda: cancel_5(w), timeout_ms=30_000)

    def cancel_5(w):
        w.next()
        count = len(rows())
        wait_for(w.summary_page.isComplete, w.accept, timeout_ms=10_000)

        def made_things():
            if len(rows()) <= count:
                return False
            detail = rows()[-1].detail
            return detail is not None and len(detail.created) >= 2

        wait_for(made_things, cancel_6)

    def cancel_6():
        job_id = rows()[-1].job_id
        show(job_id)
        box = window.jobs.ask_cancel(job_id)
        if box is None:
            stage_failed()
            return
        later(500, lambda: cancel_7(job_id, box))

    def cancel_7(job_id, box):
        shoot(box, "screenshot-restore-cancel-confirm.png")
        stop = next(b for b in box.buttons() if b.text() == "Cancel the job")
        stop.click()
        wait_for(lambda: window.jobs.cleanup_dialog is not None, lambda: later(500, cancel_8))

    def cancel_8():
        dialog = window.jobs.cleanup_dialog
        if dialog is not None:
            shoot(dialog, "screenshot-restore-cancelled-cleanup.png")
            dialog.delete.click()  # leave the sandbox as it was: the half-built server goes
        later(1500, stage_failed)

    def stage_failed():
        node = next(n for n in window.model.servers() if n.label == "pg-src-weu")
        window._handlers["restore"](node)
        later(4000, failed_1)

    def failed_1():
        w = open_wizard()
        if w is None:
            stage_files()
            return
        w.source_page.points.setCurrentRow(0)
        w.next()
        page = w.container_page
        wait_for(lambda: has(page.accounts, "stpgrestoreweu"), lambda: failed_2(w))

    def failed_2(w):
        page = w.container_page
        choose(page.accounts, "stpgrestoreweu")
        wait_for(lambda: has(page.containers, "restores"), lambda: failed_3(w))

    def failed_3(w):
        page = w.container_page
        choose(page.containers, "restores")
        page.read_buttons[next(a for a in page.read_buttons if a.value == "sas")].setChecked(True)
        page.sas.setText(EXPIRED_SAS)  # a pasted SAS that has expired
        wait_for(page.isComplete, lambda: failed_4(w), timeout_ms=20_000)

    def failed_4(w):
        w.next()
        page = w.server_page
        page.name.setText("pg-src-weu-failed")
        page.download.setText(f"{SCRATCH}/download-2")
        wait_for(page.isComplete, lambda: failed_5(w), timeout_ms=30_000)

    def failed_5(w):
        w.next()
        count = len(rows())
        wait_for(w.summary_page.isComplete, w.accept, timeout_ms=10_000)
        wait_for(
            lambda: len(rows()) > count and not rows()[-1].active,
            lambda: later(800, failed_6),
        )

    def failed_6():
        job_id = rows()[-1].job_id
        show(job_id)
        shoot(window, "screenshot-restore-failed.png")
        dialog = window.jobs.open_details(job_id)
        if dialog is not None:
            later(500, lambda: (shoot(dialog, "screenshot-restore-failure-details.png"),
                                dialog.close(), stage_files()))  # fmt: skip
        else:
            stage_files()

    def stage_files():
        window.tree.setCurrentIndex(QModelIndex())
        window._handlers["restore"](None)  # Tools > Restore… with nothing selected
        later(1500, files_1)

    def files_1():
        w = open_wizard()
        if w is None:
            stage_policy()
            return
        w.resize(960, 720)
        src = w.source_page
        src.incident_url.setText("https://stpgrestoreweu.blob.core.windows.net/restores")
        later(300, lambda: (shoot(w, "screenshot-wizard-restore-files.png"), files_2(w)))

    def files_2(w):
        w.next()
        page = w.server_page
        wait_for(lambda: has(page.subscription, "Contoso Production"), lambda: files_3(w),
                 timeout_ms=30_000)  # fmt: skip

    def files_3(w):
        page = w.server_page
        page.name.setText("pg-from-files")
        wait_for(lambda: page.region.count() > 1, lambda: later(300, lambda: files_4(w)),
                 timeout_ms=30_000)  # fmt: skip

    def files_4(w):
        shoot(w, "screenshot-wizard-restore-files-server.png")
        page = w.server_page
        page.existing_radio.setChecked(True)
        choose(page.existing, "pg-unprotected-weu")
        page.download.setText(f"{SCRATCH}/download-3")
        later(300, lambda: (shoot(w, "screenshot-wizard-restore-existing.png"), w.close(),
                            stage_policy()))  # fmt: skip

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
        shutil.rmtree(SCRATCH, ignore_errors=True)
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
