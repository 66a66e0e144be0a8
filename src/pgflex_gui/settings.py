"""The app's settings: a frozen, typed :class:`Settings`, saved atomically as JSON.

* ``schema_version`` plus stepwise migrations (``MIGRATIONS[n]`` turns version n into n+1).
* A missing or damaged file gives the defaults and a logged warning, never a crash.
* Settings hold names of keystore entries, never secret values: :func:`save_settings`
  refuses anything that looks like a secret (see :func:`find_secrets`).
* Window state lives in ``QSettings`` inside ``ui/``, not here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgflex_gui import paths
from pgflex_gui.logs import REDACTED, redact

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "MIGRATIONS",
    "SecretInSettingsError",
    "Settings",
    "find_secrets",
    "load_settings",
    "migrate",
    "save_settings",
    "settings_from_dict",
    "settings_to_dict",
]

log = logging.getLogger(__name__)

CURRENT_SCHEMA_VERSION = 1
CLOUDS = ("AzureCloud", "AzureUSGovernment", "AzureChinaCloud", "Custom")

# Key names a setting must never have: their values would be secrets.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "sas", "credential", "keyvalue")


@dataclass(frozen=True)
class Settings:
    """Everything the user configures. ``None`` means "not set: use the default behaviour"."""

    schema_version: int = CURRENT_SCHEMA_VERSION
    cloud: str = "AzureCloud"
    arm_endpoint: str | None = None  # custom clouds and the sandbox
    authority_host: str | None = None
    ca_bundle: str | None = None  # PEM file path for a private CA (sandbox, TLS proxies)
    sign_in_method: str | None = None  # a SignInMethod value; None: nothing configured -> sandbox
    tenant_id: str | None = None
    client_id: str | None = None
    subscription_filter: tuple[str, ...] = ()  # subscription ids to show; empty: all
    pg_tool_paths: dict[str, str] = field(default_factory=dict)  # major ("16") -> bin folder
    download_dir: str | None = None  # None: paths.download_dir()
    restore_jobs: int = 4  # pg_restore -j

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def effective_download_dir(self) -> Path:
        return Path(self.download_dir) if self.download_dir else paths.download_dir()


class SecretInSettingsError(ValueError):
    """Raised by :func:`save_settings` when a value looks like a secret."""


# --- migrations ----------------------------------------------------------------------------


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (the prototype) used other names and a comma-separated subscription list."""
    out = dict(data)
    if "environment" in out:
        out.setdefault("cloud", out.pop("environment"))
    if "parallel_jobs" in out:
        out.setdefault("restore_jobs", out.pop("parallel_jobs"))
    subs = out.pop("subscriptions", None)
    if isinstance(subs, str):
        out.setdefault("subscription_filter", [s.strip() for s in subs.split(",") if s.strip()])
    if "pg_bin_dir" in out:  # one folder for every major; keep it as an unknown-major entry
        folder = out.pop("pg_bin_dir")
        if folder:
            out.setdefault("pg_tool_paths", {"any": folder})
    return out


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a settings dict to :data:`CURRENT_SCHEMA_VERSION`, one step at a time."""
    out = dict(data)
    version = out.get("schema_version", 0)
    if not isinstance(version, int) or version < 0:
        log.warning("settings: bad schema_version %r, treating as 0", version)
        version = 0
    if version > CURRENT_SCHEMA_VERSION:
        log.warning(
            "settings: written by a newer pgflex-gui (schema %d > %d); reading known fields",
            version,
            CURRENT_SCHEMA_VERSION,
        )
        out["schema_version"] = CURRENT_SCHEMA_VERSION
        return out
    while version < CURRENT_SCHEMA_VERSION:
        out = MIGRATIONS[version](out)
        version += 1
        out["schema_version"] = version
        log.info("settings: migrated to schema %d", version)
    return out


# --- conversion ----------------------------------------------------------------------------


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise TypeError(f"expected text, got {type(value).__name__}")


def _coerce(name: str, value: Any) -> Any:
    if name == "cloud":
        if not isinstance(value, str) or not value:
            raise TypeError("cloud must be a name")
        return value
    if name in {
        "arm_endpoint",
        "authority_host",
        "ca_bundle",
        "sign_in_method",
        "tenant_id",
        "client_id",
        "download_dir",
    }:
        return _opt_str(value)
    if name == "subscription_filter":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError("subscription_filter must be a list of ids")
        return tuple(value)
    if name == "pg_tool_paths":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise TypeError("pg_tool_paths must map a major version to a folder")
        return dict(value)
    if name == "restore_jobs":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
            raise TypeError("restore_jobs must be a whole number from 1 to 64")
        return value
    if name == "schema_version":
        return CURRENT_SCHEMA_VERSION
    raise KeyError(name)


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Settings from (possibly old or partly wrong) JSON data; bad fields get their default."""
    migrated = migrate(data)
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for name, value in migrated.items():
        if name not in known:
            log.warning("settings: ignoring unknown setting %r", name)
            continue
        try:
            values[name] = _coerce(name, value)
        except (TypeError, ValueError) as exc:
            log.warning("settings: %s: %s; using the default", name, exc)
    return Settings(**values)


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    data = dataclasses.asdict(settings)
    data["subscription_filter"] = list(settings.subscription_filter)
    return data


# --- the secret guard ----------------------------------------------------------------------


def _name_looks_secret(name: str) -> bool:
    flat = name.lower().replace("_", "").replace("-", "")
    return any(word in flat for word in _SECRET_WORDS)


def find_secrets(data: Any, where: str = "") -> list[str]:
    """Paths (``a.b``) of keys named like secrets or of values that look like secrets."""
    found: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            path = f"{where}.{key}" if where else str(key)
            if _name_looks_secret(str(key)):
                found.append(path)
            else:
                found.extend(find_secrets(value, path))
            if isinstance(key, str) and redact(key) != key:
                found.append(f"{path} (key)")
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            found.extend(find_secrets(value, f"{where}[{index}]"))
    elif isinstance(data, str) and (redact(data) != data or REDACTED in data):
        found.append(where)
    return found


# --- load / save ---------------------------------------------------------------------------


def load_settings(path: Path | str | None = None) -> Settings:
    """The saved settings, or the defaults (with a warning) if the file is missing or damaged."""
    target = Path(path) if path is not None else paths.settings_path()
    try:
        raw = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        log.info("settings: %s does not exist yet; using defaults", target)
        return Settings()
    except OSError as exc:
        log.warning("settings: cannot read %s (%s); using defaults", target, exc)
        return Settings()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        log.warning("settings: %s is damaged (%s); using defaults", target, exc)
        return Settings()
    if not isinstance(data, dict):
        log.warning("settings: %s does not hold an object; using defaults", target)
        return Settings()
    try:
        return settings_from_dict(data)
    except Exception:
        log.warning("settings: cannot use %s; using defaults", target, exc_info=True)
        return Settings()


def save_settings(settings: Settings, path: Path | str | None = None) -> Path:
    """Write ``settings`` atomically (temporary file, fsync, ``os.replace``); return the path.

    Raises :class:`SecretInSettingsError` if anything looks like a secret: secrets belong
    in the keystore, settings only name its entries.
    """
    target = Path(path) if path is not None else paths.settings_path()
    data = settings_to_dict(settings)
    data["schema_version"] = CURRENT_SCHEMA_VERSION
    suspicious = find_secrets(data)
    if suspicious:
        raise SecretInSettingsError(
            "refusing to save settings that look like they hold a secret: " + ", ".join(suspicious)
        )
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp_name).replace(target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target
