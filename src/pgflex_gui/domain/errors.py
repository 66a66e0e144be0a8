"""The one error type the app shows, and the fault taxonomy behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["AppError", "Cancelled", "Fault"]


class Fault(StrEnum):
    """Whose move it is when something fails."""

    USER = "user"  # bad input or a precondition the user can fix
    PERMISSION = "permission"  # a role or right is missing
    AZURE = "azure"  # the service refused or failed
    NETWORK = "network"  # unreachable, timed out, throttled
    APP = "app"  # a bug in pgflex-gui


@dataclass(eq=False)  # not frozen: raising sets __traceback__ (and contextlib sets it too)
class AppError(Exception):
    """A problem told in plain language, with what to do about it.

    ``summary`` is the first line a DBA reads; ``remedy`` says what to do; ``details``
    carries the technical text (code, message, request id) for the copy button.
    """

    fault: Fault
    summary: str
    remedy: str = ""
    retryable: bool = False
    azure_code: str | None = None
    request_id: str | None = None
    details: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        text = self.summary
        if self.remedy:
            text += f" {self.remedy}"
        return text

    def report(self) -> str:
        """Everything, for the Details box and the log (already free of secrets)."""
        lines = [self.summary]
        if self.remedy:
            lines.append(f"What to do: {self.remedy}")
        if self.azure_code:
            lines.append(f"Azure error code: {self.azure_code}")
        if self.request_id:
            lines.append(f"Request id: {self.request_id}")
        if self.details:
            lines.append("")
            lines.append(self.details)
        return "\n".join(lines)


class Cancelled(Exception):
    """The user cancelled; not an error, never shown as one."""
