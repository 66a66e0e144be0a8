"""The frozen (PyInstaller) app: it builds, its --smoke exits 0, and its --self-check imports
the Azure SDK modules and finds a keyring backend.

Slow (a build takes about 25 s on 2 cores), so it runs only when asked:
``PGFLEX_PACKAGING=1`` builds the bundle into a temporary folder; ``PGFLEX_FROZEN_APP=<path
to the frozen executable>`` checks an existing bundle instead (CI builds once).
Inside scripts/test (real Secret Service) with ``CI=true`` or ``PGFLEX_REQUIRE_KEYRING=1``
the frozen app must find the Secret Service backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "pgflex-gui.spec"
EXE_NAME = "pgflex-gui.exe" if sys.platform == "win32" else "pgflex-gui"


def _require_keyring() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get(
        "PGFLEX_REQUIRE_KEYRING"
    ) in ("1", "true")


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("PGFLEX_FROZEN_APP")
    if given:
        path = Path(given)
        assert path.is_file(), f"PGFLEX_FROZEN_APP={given} does not exist"
        return path
    if os.environ.get("PGFLEX_PACKAGING") != "1" and os.environ.get("CI") != "true":
        pytest.skip("set PGFLEX_PACKAGING=1 to build the bundle (slow; always built in CI)")
    tmp = tmp_path_factory.mktemp("frozen")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(tmp / "dist"),
            "--workpath",
            str(tmp / "work"),
            str(SPEC),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-5000:]
    app = tmp / "dist" / "pgflex-gui" / EXE_NAME
    assert app.is_file()
    return app


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PGFLEX_HOME"] = str(tmp_path / "home")
    env.pop("PYTHON_KEYRING_BACKEND", None)
    return env


def test_frozen_self_check(frozen_app: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "self-check.json"
    run = subprocess.run(
        [str(frozen_app), "--self-check", "--out", str(out_file)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out_file.read_text(encoding="utf-8"))
    assert report["frozen"] is True
    assert report["imports_failed"] == {}
    assert report["keyring"].startswith("keyring.backends.")
    assert report["versions"]["azure-identity"] != "not installed"
    assert report["versions"]["pgflex-gui"] != "not installed"
    assert report["qt_binding"]["sound"] is True, report.get("qt_binding")
    probe = report["keyring_probe"]
    if _require_keyring():
        assert probe["secure"], probe
    else:
        assert probe["name"]


def test_frozen_smoke(frozen_app: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [str(frozen_app), "--smoke"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
