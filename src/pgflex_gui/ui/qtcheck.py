"""Does this Qt binding keep Python's reference counts straight across ``Signal.emit()``?

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` on every emit made from
Python; after a few thousand progress updates the interpreter aborts in ``bool_dealloc``.
The app pins away from that release (requirements/), and this check proves the binding in
use is sound: it emits every kind of signal the app relies on (the task bridge, the job
runner's progress and finished bridge, a wizard page's ``completeChanged``, plain and
``bool`` signals) ``n`` times, delivers them, and measures how the reference counts of
``True``, ``False``, ``None`` and small ints moved.

``python -m pgflex_gui.ui.qtcheck`` prints one line per signal kind and exits 1 on drift;
the frozen app's ``--self-check`` runs it too, and the test suite asserts it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QApplication, QWizardPage

__all__ = ["KIND_NAMES", "EmitKind", "drift", "emit_kinds", "main"]

# The immortal-in-3.12 singletons and the small ints the app passes through signals.
WATCHED: dict[str, object] = {
    "True": True,
    "False": False,
    "None": None,
    "0": 0,
    "1": 1,
    "-1": -1,
    "100": 100,
}


KIND_NAMES = (
    "Signal()",
    "Signal(bool) True",
    "Signal(bool) False",
    "Signal(int)",
    "Signal(object) None",
    "task bridge",
    "runner progress",
    "runner finished",
    "completeChanged",
)


class _Probe(QObject):
    plain = Signal()
    flag = Signal(bool)
    number = Signal(int)
    payload = Signal(object)


@dataclass(frozen=True)
class EmitKind:
    """One kind of emission: ``emit()`` sends one signal; ``name`` says which."""

    name: str
    emit: Callable[[], None]


def emit_kinds() -> list[EmitKind]:
    """The signal kinds the app uses, wired to real receivers as the app wires them."""
    from pgflex_gui.ui.panels.jobs import RunnerBridge
    from pgflex_gui.ui.tasks import TaskManager, _Message

    probe = _Probe()
    seen: list[object] = []
    probe.plain.connect(lambda: seen.append(None))
    probe.flag.connect(lambda value: seen.append(value))
    probe.number.connect(lambda value: seen.append(value))
    probe.payload.connect(lambda value: seen.append(value))

    tasks = TaskManager(inline=True)
    bridge = RunnerBridge()
    bridge.progress.connect(lambda job_id, progress: seen.append(progress))
    bridge.finished.connect(lambda job_id, result, error, cancelled: seen.append(cancelled))
    page = QWizardPage()
    page.completeChanged.connect(lambda: seen.append(page.isComplete()))

    def drain() -> None:
        seen.clear()

    keep = (probe, tasks, bridge, page)  # alive as long as the closures are

    def hold(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            fn()
            drain()
            assert keep

        return run

    kinds = [
        EmitKind("Signal()", hold(probe.plain.emit)),
        EmitKind("Signal(bool) True", hold(lambda: probe.flag.emit(True))),
        EmitKind("Signal(bool) False", hold(lambda: probe.flag.emit(False))),
        EmitKind("Signal(int)", hold(lambda: probe.number.emit(1))),
        EmitKind("Signal(object) None", hold(lambda: probe.payload.emit(None))),
        EmitKind("task bridge", hold(lambda: tasks.delivered.emit(_Message(0, "ok", True)))),
        EmitKind("runner progress", hold(lambda: bridge.progress.emit("job", None))),
        EmitKind("runner finished", hold(lambda: bridge.finished.emit("job", 1, None, False))),
        EmitKind("completeChanged", hold(page.completeChanged.emit)),
    ]
    assert [k.name for k in kinds] == list(KIND_NAMES)
    return kinds


# Extra references held while measuring, so that a binding which drops one per emit is
# measured instead of killing the process (True has only a few hundred references in a bare
# interpreter). Never released: after a broken run they stand in for the lost ones.
_BALLAST: list[object] = []


def drift(kind: EmitKind, n: int = 10_000) -> dict[str, int]:
    """How each watched object's refcount moved over ``n`` emissions (0 means sound)."""
    app = QCoreApplication.instance()
    for obj in WATCHED.values():
        _BALLAST.extend([obj] * (n + 200))
    for _ in range(100):  # warm up: caches, lazily created wrappers
        kind.emit()
    if app is not None:
        app.processEvents()
    before = {name: sys.getrefcount(obj) for name, obj in WATCHED.items()}
    for _ in range(n):
        kind.emit()
    if app is not None:
        app.processEvents()
    after = {name: sys.getrefcount(obj) for name, obj in WATCHED.items()}
    # Allow a handful of references made by caches on the way; a broken binding moves by n.
    return {name: after[name] - before[name] for name in WATCHED}


def report(n: int = 10_000) -> dict[str, dict[str, int]]:
    """``{signal kind: {watched object: drift}}`` for every kind."""
    return {kind.name: drift(kind, n) for kind in emit_kinds()}


def is_sound(result: dict[str, dict[str, int]], n: int) -> bool:
    """True when no watched refcount moved by more than 1 % of the emissions."""
    limit = max(10, n // 100)
    return all(abs(delta) <= limit for deltas in result.values() for delta in deltas.values())


def main(argv: list[str] | None = None) -> int:
    n = int((argv or sys.argv[1:] or ["10000"])[0])
    app = QApplication.instance() or QApplication(["qtcheck"])
    result = report(n)
    for name, deltas in result.items():
        moved = {k: v for k, v in deltas.items() if v}
        print(f"{name:22} {'ok' if not moved else 'DRIFT ' + repr(moved)}")
    sound = is_sound(result, n)
    print(
        f"PySide6 {PYSIDE_VERSION}, Python {sys.version.split()[0]}: {n} emissions each, "
        f"{'sound' if sound else 'BROKEN: references are lost on emit'}"
    )
    del app
    if not sound:
        # Interpreter teardown would free the ballast and abort in bool_dealloc: leave now.
        sys.stdout.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
