"""Throwaway MySQL-compatible servers: from local binaries (`local`) or a Docker engine (`docker_engine`).

`start_sandbox()` picks what this machine has; tests, `make demo` and `query-audit sandbox` all use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from query_audit.sandbox.base import Sandbox, SandboxInfo, start_sandbox

__all__ = ["Sandbox", "SandboxInfo", "start_sandbox"]


def __getattr__(name: str):
    # The engines load on first use: every analysis imports sandbox.shadow_copy, few start a server.
    if name in __all__:
        from query_audit.sandbox import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
