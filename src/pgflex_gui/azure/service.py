"""What every write-side service shares: SDK calls translated to AppError, and audited."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pgflex_gui.azure.clients import ClientFactory, Lro
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.domain.errors import AppError

__all__ = ["Audit", "AuditedService"]

log = logging.getLogger(__name__)

Audit = Callable[..., None]
"""``audit(what=..., target=..., result=...)``, e.g. ``logs.AuditLog.record``."""


class AuditedService:
    """Base of the services that write to Azure: each write is audited once, with its result.

    An audit callback that fails is logged and never hides the write's own outcome.
    """

    def __init__(self, factory: ClientFactory, audit: Audit | None = None) -> None:
        self._factory = factory
        self._audit = audit

    def _record(self, what: str, target: str, result: str) -> None:
        if self._audit is None:
            return
        try:
            self._audit(what=what, target=target, result=result)
        except Exception:
            log.exception("Audit callback failed for %s on %s", what, target)

    def _write(self, what: str, target: str, call: Callable[[], Any]) -> Any:
        """Run a synchronous write inside azure_call and audit its outcome."""
        try:
            with azure_call(what):
                value = call()
        except AppError as err:
            self._record(what, target, f"failed: {err.azure_code or err.summary}")
            raise
        self._record(what, target, "succeeded")
        return value

    def _begin(
        self,
        what: str,
        target: str,
        start: Callable[[], Any],
        convert_result: Callable[[Any], Any],
        *,
        resumed: bool,
        audited: bool = True,
    ) -> Lro[Any]:
        """Start a long-running write; audited when started, and again when it ends.

        A resumed operation (``continuation_token``) was audited as started already.
        ``audited=False`` is for long-running reads and validations.
        """
        try:
            with azure_call(what):
                poller = start()
        except AppError as err:
            if audited:
                self._record(what, target, f"failed: {err.azure_code or err.summary}")
            raise
        if audited and not resumed:
            self._record(what, target, "started")
        return Lro(
            poller,
            what=what,
            convert=convert_result,
            on_finish=(lambda result: self._record(what, target, result)) if audited else None,
        )
