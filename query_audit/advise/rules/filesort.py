"""filesort: the server sorts the rows after reading them (`Using filesort`) instead of reading them in order.

- **Detects**: a plan row flagged `Using filesort`.
- **Why**: the rows are sorted after being read (in memory or on disk), on every execution.
- **Fix**: an index whose columns after the equality prefix are the ORDER BY columns; the finding says whether
  the suggested (or an existing) index removes the sort, or why no single index can (columns of several
  tables, mixed ASC/DESC, a range before them).
- **Without a plan**: a MariaDB slow log's `Filesort: Yes` (`log_slow_verbosity=query_plan`), with
  `evidence.source`.
"""

from __future__ import annotations

from query_audit.advise.rules._plan_flags import plan_flag_rule
from query_audit.advise.rules._server_evidence import SORT_FLAGS
from query_audit.model import Severity

RULE = plan_flag_rule(
    "filesort",
    flag="using_filesort",
    what="the server sorts the result (Using filesort)",
    server_flags=SORT_FLAGS,
    server_what="the server sorted the result (Filesort)",
    severity=Severity.LOW,
    description="The server sorts the rows after reading them (Using filesort).",
    help=("Anti-pattern: ORDER BY on columns no index returns in order. Best practice: an index whose columns "
          "after the equality prefix are the ORDER BY columns, in one direction."),
    severity_policy=("by the rows of that SELECT: `info` below `full_scan_rows`, `low`, `medium` from "
                     "`large_scan_rows`; without a plan `low`"),
    details=__doc__,
)
