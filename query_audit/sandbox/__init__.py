"""Throwaway MySQL-compatible servers: from local binaries (`local`) or a Docker engine (`docker_engine`).

`start_sandbox()` picks what this machine has; tests, `make demo` and `query-audit sandbox` all use it.
"""

from query_audit.sandbox.base import Sandbox, SandboxInfo, start_sandbox

__all__ = ["Sandbox", "SandboxInfo", "start_sandbox"]
