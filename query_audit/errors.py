"""Typed errors. The CLI maps them to exit codes in one place (`query_audit.cli`).

Exit codes: 0 ok, 1 the gate found something (not an error: see `query_audit.gate`), 2 usage or
environment error. Every message here is one line a user can act on, and never holds a password.
"""


class QueryAuditError(Exception):
    """An error the user can fix: bad input, unreachable server, missing privilege. Exit 2."""

    exit_code = 2


class UsageError(QueryAuditError):
    """Options that do not go together, or a command without its inputs. The CLI shows it as click shows its
    own usage errors: the command's usage line, then the message."""


class ConnectionFailed(QueryAuditError):
    """The server did not answer, refused the login, or the database does not exist."""


class MissingPrivilege(QueryAuditError):
    """The account lacks a privilege the command needs; nothing was changed."""


class EndpointFailed(QueryAuditError):
    """A replayed endpoint refused the connection or timed out (an HTTP error status is not this)."""


class SourceError(QueryAuditError):
    """A log file or saved capture that cannot be read at all (a broken line is skipped, not this)."""


class SandboxError(QueryAuditError):
    """A throwaway server could not be started or stopped."""
