"""filesort: the server sorts the rows after reading them (`Using filesort`) instead of reading them in order."""

from __future__ import annotations

from query_audit.advise.rules._plan_flags import flag_findings
from query_audit.advise.rules._server_evidence import SORT_FLAGS, flag_only_findings
from query_audit.model import Finding, SchemaMap, Thresholds

RULE = "filesort"


def check(queries, schemas: SchemaMap, thresholds: Thresholds) -> list[Finding]:
    return flag_findings(queries, schemas, thresholds, rule=RULE, flag="using_filesort",
                         what="the server sorts the result (Using filesort)") + \
        flag_only_findings(queries, thresholds, RULE, SORT_FLAGS, "the server sorted the result (Filesort)")
