"""Fault injection: per-route latency, throttling, server errors and dropped connections."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FaultRule", "Faults"]


@dataclass
class FaultRule:
    """One rule. ``pattern`` is a regex searched in ``"METHOD /path"`` (path without query).

    ``status`` (e.g. 429, 500, 503) answers with an Azure error instead of the real route;
    ``retry_after`` adds a Retry-After header; ``latency_ms`` delays the answer; ``drop``
    closes the connection without answering. ``times`` limits how often the rule fires
    (None: forever).
    """

    pattern: str
    status: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    drop: bool = False
    times: int | None = None
    code: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    hits: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON form for the admin endpoint."""
        return asdict(self)


class Faults:
    """A thread-safe list of rules; the first matching live rule applies to a request."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules or [])
        self.global_latency_ms = 0

    def add(
        self,
        pattern: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        latency_ms: int = 0,
        drop: bool = False,
        times: int | None = None,
        code: str | None = None,
    ) -> str:
        """Add a rule; return its id."""
        re.compile(pattern)
        rule = FaultRule(pattern, status, retry_after, latency_ms, drop, times, code)
        with self._lock:
            self._rules.append(rule)
        return rule.id

    def add_json(self, data: dict[str, Any]) -> str:
        """Add a rule from its JSON form (admin endpoint)."""
        allowed = {"pattern", "status", "retry_after", "latency_ms", "drop", "times", "code"}
        return self.add(**{k: v for k, v in data.items() if k in allowed})

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; True if it existed."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def list(self) -> list[FaultRule]:
        """A snapshot of the rules."""
        with self._lock:
            return list(self._rules)

    def match(self, method: str, path: str) -> FaultRule | None:
        """The rule to apply to this request (counts a hit), or None."""
        target = f"{method.upper()} {path}"
        with self._lock:
            for rule in self._rules:
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if re.search(rule.pattern, target, re.IGNORECASE):
                    rule.hits += 1
                    return rule
        return None
