"""temporary_table: GROUP BY, DISTINCT or UNION builds an internal temporary table (`Using temporary`)."""

from __future__ import annotations

from query_audit.advise.rules._plan_flags import flag_findings
from query_audit.advise.rules._server_evidence import TEMPORARY_FLAGS, flag_only_findings
from query_audit.model import Finding, SchemaMap, Thresholds

RULE = "temporary_table"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    return flag_findings(queries, schemas, thresholds, rule=RULE, flag="using_temporary",
                         what="the server builds a temporary table (Using temporary)") + \
        flag_only_findings(queries, thresholds, RULE, TEMPORARY_FLAGS, "the server built a temporary table (Tmp_table)")
