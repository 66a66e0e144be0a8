"""Opening psql in a terminal and pgAdmin: the commands, and the password kept off them."""

from __future__ import annotations

from pathlib import Path

from pgflex_gui.postgres.clients import find_pgadmin, pgadmin_launch, psql_launch

CONNINFO = "host=h port=5432 dbname=sales user=pgadmin sslmode=require"


def only(*names: str) -> object:
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_linux_uses_the_first_terminal_found_and_the_environment_for_the_password() -> None:
    launch = psql_launch("/usr/bin/psql", CONNINFO, password="s3cret!", system="Linux",
                         env={}, which=only("xterm", "konsole"))  # fmt: skip
    assert launch.ok
    assert launch.program == "/usr/bin/konsole"
    assert launch.args == ("-e", "/usr/bin/psql", CONNINFO)
    assert launch.env == {"PGPASSWORD": "s3cret!"}
    assert "s3cret!" not in " ".join(launch.args)


def test_terminal_from_the_environment_wins() -> None:
    launch = psql_launch("psql", CONNINFO, password=None, system="Linux",
                         env={"TERMINAL": "foot --title db"}, which=only("foot", "xterm"))  # fmt: skip
    assert launch.program == "/usr/bin/foot"
    assert launch.args == ("--title", "db", "-e", "psql", CONNINFO)
    assert launch.env == {}


def test_no_terminal_or_no_psql_says_why() -> None:
    none = psql_launch("psql", CONNINFO, password="p", system="Linux", env={}, which=only())
    assert not none.ok
    assert "No terminal program" in none.problem
    missing = psql_launch(None, CONNINFO, password="p", system="Linux", env={}, which=only())
    assert "psql was not found" in missing.problem


def test_macos_terminal_gets_no_password_and_says_so() -> None:
    launch = psql_launch("/opt/homebrew/bin/psql", CONNINFO, password="p", system="Darwin")
    assert launch.program == "osascript"
    assert "p" not in launch.env
    assert "psql asks for it" in launch.note
    assert "do script" in launch.args[1]


def test_windows_opens_a_console() -> None:
    launch = psql_launch(r"C:\PG\bin\psql.exe", CONNINFO, password="p", system="Windows")
    assert launch.program == "cmd.exe"
    assert launch.args[:3] == ("/c", "start", "psql")
    assert launch.env == {"PGPASSWORD": "p"}


def test_pgadmin_found_where_installers_put_it() -> None:
    path = Path("/usr/pgadmin4/bin/pgadmin4")
    assert find_pgadmin("Linux", which=only(), exists=lambda p: p == path, env={}) == path
    assert find_pgadmin("Linux", which=only(), exists=lambda p: False, env={}) is None
    win = find_pgadmin("Windows", which=only(), exists=lambda p: "pgAdmin4.exe" in str(p),
                       env={"ProgramFiles": r"C:\Program Files"})  # fmt: skip
    assert win is not None
    assert win.name == "pgAdmin4.exe"
    assert pgadmin_launch(None, Path("s.json")).problem
    mac = pgadmin_launch(Path("/Applications/pgAdmin 4.app"), Path("/r/s.json"), system="Darwin")
    assert mac.program == "open"
    assert "/r/s.json" in mac.note
