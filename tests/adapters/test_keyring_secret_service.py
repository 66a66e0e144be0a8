"""The keystore against a real Secret Service (gnome-keyring in dbus-run-session, see
scripts/test), and the session-only fallback in a process that has no session bus.

With ``CI=true`` or ``PGFLEX_REQUIRE_KEYRING=1`` a missing secure keyring FAILS the test
instead of skipping it.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from typing import Any

import keyring
import pytest

from pgflex_gui import logs
from pgflex_gui.keystore import SERVICE, BackendInfo, Keystore, probe_backend


def _require_secure_keyring() -> BackendInfo:
    info = probe_backend(timeout=10)
    if not info.secure:
        message = f"no secure keyring backend: {info.name}: {info.reason}"
        if os.environ.get("CI", "").lower() == "true" or os.environ.get(
            "PGFLEX_REQUIRE_KEYRING"
        ) in ("1", "true"):
            pytest.fail(message + " (required: CI/PGFLEX_REQUIRE_KEYRING)")
        pytest.skip(message + " (run through scripts/test for a real Secret Service)")
    return info


@pytest.fixture
def keystore() -> Iterator[Keystore]:
    info = _require_secure_keyring()
    ks = Keystore(info=info)
    yield ks
    logs.clear_registered_secrets()


def test_round_trip_through_secret_service(keystore: Keystore) -> None:
    assert not keystore.session_only
    assert keystore.backend_name in (
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
    )
    key = f"sp:test-tenant:{uuid.uuid4()}"
    value = f"client-secret-{uuid.uuid4()}"
    try:
        keystore.set(key, value)
        # Really in the Secret Service: a fresh keyring lookup sees it.
        assert keyring.get_keyring().get_password(SERVICE, key) == value
        assert keystore.get(key) == value
        assert value not in logs.redact(f"the secret is {value}")
    finally:
        assert keystore.delete(key) is True
    assert keystore.get(key) is None
    assert keystore.delete(key) is False


def _child_without_bus(results: Any, key: str, value: str) -> None:
    ks = Keystore(probe_timeout=10)
    ks.set(key, value)
    results.put(
        {
            "session_only": ks.session_only,
            "backend": ks.backend_name,
            "reason": ks.reason,
            "value": ks.get(key),
            "bus": os.environ.get("DBUS_SESSION_BUS_ADDRESS"),
        }
    )


def test_session_only_fallback_without_a_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"sp:test-tenant:{uuid.uuid4()}"
    value = f"client-secret-{uuid.uuid4()}"
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_child_without_bus, args=(results, key, value))
    child.start()
    try:
        out = results.get(timeout=60)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    monkeypatch.undo()
    assert child.exitcode == 0
    assert out["bus"] is None
    assert out["session_only"] is True, out
    assert out["backend"] == "session memory"
    assert out["value"] == value  # usable for the session
    assert out["reason"]
    # ... and nothing reached a real keyring.
    info = probe_backend(timeout=10)
    if info.secure:
        assert keyring.get_keyring().get_password(SERVICE, key) is None
