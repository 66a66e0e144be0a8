"""Reading Azure's JSON payloads as Azure writes them: keys matched case-insensitively."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["get"]


def get(data: Any, *path: str, default: Any = None) -> Any:
    """``data[p0][p1]...``, case-insensitive on keys, or ``default`` when anything is missing."""
    node = data
    for key in path:
        if not isinstance(node, Mapping):
            return default
        if key in node:
            node = node[key]
            continue
        lower = key.lower()
        for k, v in node.items():
            if isinstance(k, str) and k.lower() == lower:
                node = v
                break
        else:
            return default
    return default if node is None else node
