"""Validation messages that wizards show inline next to the field they concern."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Issue", "Severity", "error", "errors", "has_errors", "info", "warning"]


class Severity(StrEnum):
    """How much an issue matters: only ERROR blocks the next step."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Issue:
    """One finding about a draft, in plain words.

    Attributes:
        severity: ERROR blocks, WARNING asks for attention, INFO only explains.
        field: the draft field the issue belongs to (e.g. ``"schedule.weekday"``).
        message: what is wrong or worth knowing.
        remedy: what to do about it; empty when nothing needs doing.
    """

    severity: Severity
    field: str
    message: str
    remedy: str = ""

    @property
    def blocks(self) -> bool:
        """True when the issue stops the wizard from going on."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        return f"{self.message} {self.remedy}".strip()


def error(field: str, message: str, remedy: str = "") -> Issue:
    """Shorthand for an ERROR issue."""
    return Issue(Severity.ERROR, field, message, remedy)


def warning(field: str, message: str, remedy: str = "") -> Issue:
    """Shorthand for a WARNING issue."""
    return Issue(Severity.WARNING, field, message, remedy)


def info(field: str, message: str, remedy: str = "") -> Issue:
    """Shorthand for an INFO issue."""
    return Issue(Severity.INFO, field, message, remedy)


def has_errors(issues: Iterable[Issue]) -> bool:
    """True when any issue blocks."""
    return any(i.severity is Severity.ERROR for i in issues)


def errors(issues: Iterable[Issue]) -> list[Issue]:
    """Only the blocking issues, in order."""
    return [i for i in issues if i.severity is Severity.ERROR]
