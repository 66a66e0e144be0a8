"""Where pgflex-gui keeps its files: settings, logs, data and the job journal.

Everything follows the platform's conventions (platformdirs). Setting ``PGFLEX_HOME``
puts everything under that one folder instead (tests, portable installs)::

    $PGFLEX_HOME/config   settings.json, auth_record.json
    $PGFLEX_HOME/logs     pgflex-gui.log (rotated)
    $PGFLEX_HOME/data     audit.jsonl, journal/

Functions return paths without creating them; writers create the folders they need.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = [
    "APP_NAME",
    "auth_record_path",
    "config_dir",
    "data_dir",
    "download_dir",
    "journal_dir",
    "log_dir",
    "settings_path",
]

APP_NAME = "pgflex-gui"
HOME_ENV = "PGFLEX_HOME"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Settings and the sign-in record (no secrets)."""
    home = _home()
    if home is not None:
        return home / "config"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False, roaming=True))


def log_dir() -> Path:
    """The rotating application log."""
    home = _home()
    if home is not None:
        return home / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Audit log, job journal and other state the app writes."""
    home = _home()
    if home is not None:
        return home / "data"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def journal_dir() -> Path:
    """The jobs' journal (resumable restores)."""
    return data_dir() / "journal"


def download_dir() -> Path:
    """Default folder for downloaded backup files (overridable in settings)."""
    home = _home()
    if home is not None:
        return home / "downloads"
    return Path(platformdirs.user_downloads_dir()) / APP_NAME


def settings_path() -> Path:
    return config_dir() / "settings.json"


def auth_record_path() -> Path:
    """azure-identity's AuthenticationRecord (account id, tenant, authority: not a secret)."""
    return config_dir() / "auth_record.json"
