"""``pgflex sandbox reset`` deletes a sandbox's state and the clusters it keeps elsewhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from pgflex_gui.sandbox import cli
from pgflex_gui.sandbox.pgcluster import external_pg_home, external_pg_homes


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The external cluster homes go under this test's own temp dir."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path


def test_reset_deletes_the_workdir_and_only_its_external_clusters(private_tmp: Path) -> None:
    workdir = private_tmp / "sb"
    (workdir / "data").mkdir(parents=True)
    (workdir / "state.json").write_text("{}")
    mine = [external_pg_home((workdir / "data").resolve(), n) for n in ("src", "dst")]
    other = external_pg_home((private_tmp / "other" / "data").resolve(), "src")
    for home in [*mine, other]:
        (home / "data").mkdir(parents=True)
    assert external_pg_homes((workdir / "data").resolve()) == sorted(mine)

    assert cli.main(["reset", "--dir", str(workdir)]) == 0

    assert not workdir.exists()
    assert not any(home.exists() for home in mine)
    assert other.exists()


def test_reset_refuses_a_folder_that_is_not_a_sandbox(
    private_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = private_tmp / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("x")
    assert cli.main(["reset", "--dir", str(folder)]) == 2
    assert (folder / "thesis.tex").exists()
    assert "no sandbox" in capsys.readouterr().err
