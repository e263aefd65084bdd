"""temporary_table: GROUP BY, DISTINCT or UNION builds an internal temporary table (`Using temporary`).

- **Detects**: a plan row flagged `Using temporary` (GROUP BY, DISTINCT, UNION, ORDER BY across tables).
- **Why**: the server builds an internal table per execution, on disk when it grows.
- **Fix**: group by indexed columns of one table (the suggested index, when it includes them), or
  pre-aggregate.
- **Without a plan**: a MariaDB slow log's `Tmp_table: Yes` or `Tmp_table_on_disk: Yes`, with
  `evidence.source`.
"""

from __future__ import annotations

from query_audit.advise.rules._plan_flags import plan_flag_rule
from query_audit.advise.rules._server_evidence import TEMPORARY_FLAGS
from query_audit.model import Severity

RULE = plan_flag_rule(
    "temporary_table",
    flag="using_temporary",
    what="the server builds a temporary table (Using temporary)",
    server_flags=TEMPORARY_FLAGS,
    server_what="the server built a temporary table (Tmp_table)",
    severity=Severity.LOW,
    description="GROUP BY, DISTINCT or UNION builds an internal temporary table (Using temporary).",
    help=("Anti-pattern: grouping rows that arrive in no useful order. Best practice: group by indexed columns "
          "of one table, or pre-aggregate."),
    severity_policy=("as for filesort: by the rows of that SELECT: `info` below `full_scan_rows`, `low`, "
                     "`medium` from `large_scan_rows`; without a plan `low`"),
    details=__doc__,
)
