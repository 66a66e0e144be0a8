"""Azure resource ids: parse, format and navigate them without an SDK."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ResourceId"]


@dataclass(frozen=True, order=True)
class ResourceId:
    """A parsed ARM resource id.

    ``types`` and ``names`` are parallel: ``/subscriptions/s/resourceGroups/rg/providers/
    Microsoft.DataProtection/backupVaults/v/backupInstances/bi`` has provider
    ``Microsoft.DataProtection``, types ``("backupVaults", "backupInstances")`` and
    names ``("v", "bi")``.
    """

    subscription_id: str
    resource_group: str = ""
    provider: str = ""
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ResourceId:
        """Parse an ARM id; raise ValueError with the reason when it is not one."""
        parts = [p for p in text.strip().split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "subscriptions":
            raise ValueError(f"not an Azure resource id: {text!r}")
        sub = parts[1]
        rest = parts[2:]
        rg = ""
        if len(rest) >= 2 and rest[0].lower() == "resourcegroups":
            rg = rest[1]
            rest = rest[2:]
        provider = ""
        types: list[str] = []
        names: list[str] = []
        if rest:
            if rest[0].lower() != "providers" or len(rest) < 2:
                raise ValueError(f"not an Azure resource id: {text!r}")
            provider = rest[1]
            pairs = rest[2:]
            if len(pairs) % 2:
                raise ValueError(f"resource id has a type without a name: {text!r}")
            types = pairs[0::2]
            names = pairs[1::2]
        return cls(sub, rg, provider, tuple(types), tuple(names))

    @classmethod
    def build(
        cls, subscription_id: str, resource_group: str, provider: str, *type_name: str
    ) -> ResourceId:
        """Build an id from alternating type and name arguments."""
        if len(type_name) % 2:
            raise ValueError("type/name arguments must come in pairs")
        return cls(
            subscription_id,
            resource_group,
            provider,
            tuple(type_name[0::2]),
            tuple(type_name[1::2]),
        )

    @property
    def name(self) -> str:
        """The last name segment (the resource's own name)."""
        if self.names:
            return self.names[-1]
        return self.resource_group or self.subscription_id

    @property
    def resource_type(self) -> str:
        """``Provider/type1/type2`` as ARM spells it."""
        return "/".join((self.provider, *self.types)) if self.provider else ""

    @property
    def parent(self) -> ResourceId | None:
        """The enclosing resource, resource group or subscription; None for a subscription."""
        if self.names:
            if len(self.names) == 1:
                return ResourceId(self.subscription_id, self.resource_group)
            return ResourceId(
                self.subscription_id,
                self.resource_group,
                self.provider,
                self.types[:-1],
                self.names[:-1],
            )
        if self.resource_group:
            return ResourceId(self.subscription_id)
        return None

    def child(self, type_: str, name: str) -> ResourceId:
        """The id of a child resource."""
        return ResourceId(
            self.subscription_id,
            self.resource_group,
            self.provider,
            (*self.types, type_),
            (*self.names, name),
        )

    @property
    def resource_group_id(self) -> str:
        """``/subscriptions/s/resourceGroups/rg``."""
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def subscription_scope(self) -> str:
        """``/subscriptions/s``."""
        return f"/subscriptions/{self.subscription_id}"

    def __str__(self) -> str:
        out = f"/subscriptions/{self.subscription_id}"
        if self.resource_group:
            out += f"/resourceGroups/{self.resource_group}"
        if self.provider:
            out += f"/providers/{self.provider}"
            for t, n in zip(self.types, self.names, strict=True):
                out += f"/{t}/{n}"
        return out

    def same_as(self, other: ResourceId | str) -> bool:
        """Compare case-insensitively, as ARM does."""
        return str(self).lower() == str(other).lower()
