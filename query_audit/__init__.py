"""query-audit: find why an endpoint hurts a MySQL-compatible database.

The package follows the pipeline: `capture` (and `sources` for log files) -> `analyze` -> `advise`
-> `report`, with `gate` for CI baselines and `sandbox` for throwaway servers.
"""

__version__ = "0.1.0"
