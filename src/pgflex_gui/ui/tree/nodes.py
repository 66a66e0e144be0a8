"""Qt-free tree nodes: what the resource tree holds, independent of the item model.

A :class:`ResourceNode` carries a domain value (``ref``), its children, how far its
children have been loaded (:data:`LoadState`) and, for servers, a :class:`ServerProtection`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pgflex_gui.domain.backup_kind import BackupKind, point_kind
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, RecoveryPoint, Vault

__all__ = [
    "CONTAINER_KINDS",
    "Failed",
    "LoadState",
    "Loaded",
    "Loading",
    "NodeKind",
    "NotLoaded",
    "ProtectionStatus",
    "ResourceNode",
    "ServerProtection",
    "needs_sign_in",
    "point_kind_of_node",
]


class NodeKind(StrEnum):
    ROOT = "root"
    TENANT = "tenant"
    SUBSCRIPTION = "subscription"
    SERVERS_GROUP = "servers"
    VAULTS_GROUP = "vaults"
    SERVER = "server"
    VAULT = "vault"
    POLICIES_GROUP = "policies"
    INSTANCES_GROUP = "instances"
    POLICY = "policy"
    BACKUP_INSTANCE = "backup-instance"
    RECOVERY_POINT = "recovery-point"


CONTAINER_KINDS = frozenset(
    {
        NodeKind.ROOT,
        NodeKind.TENANT,
        NodeKind.SUBSCRIPTION,
        NodeKind.SERVERS_GROUP,
        NodeKind.VAULTS_GROUP,
        NodeKind.VAULT,
        NodeKind.POLICIES_GROUP,
        NodeKind.INSTANCES_GROUP,
        NodeKind.BACKUP_INSTANCE,
    }
)


@dataclass(frozen=True)
class NotLoaded:
    """Children never asked for."""


@dataclass(frozen=True)
class Loading:
    """A listing is under way."""


@dataclass(frozen=True)
class Loaded:
    """All children are in place."""


@dataclass(frozen=True)
class Failed:
    """The listing failed; ``error`` says why and whether a retry may help."""

    error: AppError


LoadState = NotLoaded | Loading | Loaded | Failed

# Entra ID codes that mean "sign in again, interactively" rather than "you may not".
_SIGN_IN_CODES = ("AADSTS50076", "AADSTS50079", "AADSTS50158", "AADSTS65001", "AADSTS50173")
_SIGN_IN_WORDS = (
    "interactive sign-in",
    "interaction_required",
    "multi-factor",
    "consent",
    "not signed in",
)


def needs_sign_in(error: AppError | None) -> bool:
    """True when ``error`` asks for a (tenant) sign-in: MFA, consent, an expired session."""
    if error is None or error.fault is not Fault.PERMISSION:
        return False
    code = (error.azure_code or "").upper()
    if code.startswith(_SIGN_IN_CODES):
        return True
    text = f"{error.summary} {error.remedy}".lower()
    return any(word in text for word in _SIGN_IN_WORDS) or "sign in" in error.remedy.lower()


class ProtectionStatus(StrEnum):
    """What the tree shows for a server, joined from every visible vault's instances."""

    UNKNOWN = "unknown"  # vaults still being read
    UNREADABLE = "unreadable"  # some vault listings failed and no instance was found
    NOT_PROTECTED = "not-protected"
    PROTECTED = "protected"
    CONFIGURING = "configuring"
    SUSPENDED = "suspended"  # schedules suspended or protection stopped
    ERROR = "error"  # ProtectionError / ConfiguringProtectionFailed


@dataclass(frozen=True)
class ServerProtection:
    """A server's protection as far as it is known."""

    status: ProtectionStatus = ProtectionStatus.UNKNOWN
    vault_name: str = ""
    instance_id: str = ""
    policy_name: str = ""
    detail: str = ""  # the service's error message or state name
    last_backup: datetime | None = None
    vault: Vault | None = None  # where the protection scan found the instance
    instance: BackupInstance | None = None


_uids = itertools.count(1)


@dataclass(eq=False)
class ResourceNode:
    """One row of the tree. Identity matters (the model keys results by node), not equality."""

    kind: NodeKind
    ref: object = None
    label: str = ""
    parent: ResourceNode | None = None
    children: list[ResourceNode] = field(default_factory=list)
    load_state: LoadState = field(default_factory=NotLoaded)
    generation: int = 0
    protection: ServerProtection | None = None
    uid: int = field(default_factory=lambda: next(_uids))

    @property
    def is_container(self) -> bool:
        return self.kind in CONTAINER_KINDS

    @property
    def key(self) -> str:
        """What this row stands for, stable across reloads: ``"server:/subscriptions/…"``.

        A refresh replaces the node objects; the view finds the rows it had expanded or
        selected again by this key.
        """
        ref = self.ref
        ident = getattr(ref, "id", None)
        if ident is None:
            ident = getattr(ref, "subscription_id", None) or getattr(ref, "tenant_id", None)
        return f"{self.kind.value}:{str(ident if ident is not None else self.label).lower()}"

    def matches(self, resource_id: str) -> bool:
        """True when this row shows the ARM resource ``resource_id`` (case-insensitive)."""
        ident = getattr(self.ref, "id", None)
        return isinstance(ident, ResourceId) and ident.same_as(resource_id)

    @property
    def failed(self) -> AppError | None:
        state = self.load_state
        return state.error if isinstance(state, Failed) else None

    @property
    def sign_in_required(self) -> bool:
        """A tenant whose listing failed because it needs its own (MFA/consent) sign-in."""
        return self.kind is NodeKind.TENANT and needs_sign_in(self.failed)

    def add(self, child: ResourceNode) -> ResourceNode:
        """Append a child and point it back at this node."""
        child.parent = self
        self.children.append(child)
        return child

    def row(self) -> int:
        """This node's position among its parent's children (0 for the root)."""
        if self.parent is None:
            return 0
        for i, sibling in enumerate(self.parent.children):
            if sibling is self:
                return i
        return 0

    def path(self) -> list[ResourceNode]:
        """From the top-level node down to this one (the root excluded)."""
        out: list[ResourceNode] = []
        node: ResourceNode | None = self
        while node is not None and node.kind is not NodeKind.ROOT:
            out.append(node)
            node = node.parent
        return list(reversed(out))

    def ancestor(self, kind: NodeKind) -> ResourceNode | None:
        """The nearest enclosing node (or this one) of ``kind``."""
        node: ResourceNode | None = self
        while node is not None:
            if node.kind is kind:
                return node
            node = node.parent
        return None

    def walk(self) -> list[ResourceNode]:
        """This node and all loaded descendants, depth first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def point_kind_of_node(node: ResourceNode) -> BackupKind:
    """v1/v2/unknown of a recovery point node: its own evidence and its backup instance's kind
    (the nearest instance above it in the tree; "unknown" when there is none)."""
    ref = node.ref
    evidence = ref.kind_evidence if isinstance(ref, RecoveryPoint) else ""
    up = node.parent
    while up is not None and not isinstance(up.ref, BackupInstance):
        up = up.parent
    instance_kind = (
        up.ref.backup_kind if up is not None and isinstance(up.ref, BackupInstance) else "unknown"
    )
    return point_kind(instance_kind, evidence or None)
