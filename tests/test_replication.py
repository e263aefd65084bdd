"""Replicas checked for real: a primary and a GTID replica (conftest `replica_pair`), the sample shop
routing reads and writes the way Sequelize `replication` does, and `capture --replica-dsn`.

Each capture here switches the general log on both servers and must put both back; the routing rules
must find the two deliberate mistakes of the shop (a read of its own write from the replica, a
replica-safe read on the primary) and nothing on the endpoints that route correctly.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from fixtures.sample_app.harness import prepare_database, running_app
from query_audit.capture.log_settings import state_path
from query_audit.capture.replay import build_requests
from query_audit.capture.replicated import run_replicated_capture
from query_audit.capture.session import CapturePlan
from query_audit.connection import connect, parse_dsn
from query_audit.pipeline import AnalysisOptions, analyze_stream
from tests.conftest import REPO

ROUTING_RULES = ("read_on_primary", "read_after_write_on_replica", "write_on_replica", "deferrable_write")


# ------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(replica_pair):
    """(primary, replica) settings on the seeded `shop`, the replica caught up."""
    primary = parse_dsn(prepare_database(parse_dsn(replica_pair.primary.dsn), "test"))
    replica_pair.wait_for_replica()
    return primary, replace(parse_dsn(replica_pair.replica.dsn), database="shop")


@pytest.fixture(scope="module")
def app_url(servers):
    primary, replica = servers
    with running_app(primary.to_dsn(with_password=True), replica_dsn=replica.to_dsn(with_password=True)) as url:
        yield url


@pytest.fixture(scope="module")
def rename_report(servers, app_url, tmp_path_factory):
    """One capture of the endpoint that reads its own write from the replica, with a plan for the
    article's 5,000,000 requests per minute (20 app instances, 30,000 statements/s per replica)."""
    from query_audit.advise.capacity import CapacityTarget

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        target = CapacityTarget(5_000_000 / 60, "--target-rpm 5000000 / 60", app_instances=20,
                                app_instances_given=True, replica_budget=30_000)
        report = capture(servers, app_url, ["/customers/42/name"], "POST", '{"name": "Ada Lovelace"}',
                         repeat=2, capacity=target)
        assert_both_restored(servers)
    return report


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("QUERY_AUDIT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def log_settings(settings) -> tuple[int, str]:
    with connect(settings, database="") as conn, conn.cursor() as cur:
        cur.execute("SELECT @@global.general_log, @@global.log_output")
        general_log, output = cur.fetchone()
    return int(general_log), output


def assert_both_restored(servers) -> None:
    for settings in servers:
        assert log_settings(settings) == (0, "FILE"), settings.describe()
        assert not state_path(settings).exists()


def capture(servers, url: str, paths, method="GET", body=None, repeat=1, capacity=None):
    primary, replica = servers
    requests = build_requests(tuple(url + path for path in paths), method, (), body)
    result = run_replicated_capture(primary, [replica], CapturePlan(requests=tuple(requests), repeat=repeat))
    return analyze_stream(result, AnalysisOptions(settings=primary, capacity=capacity), notes=result.notes)


def found(report, rule: str):
    return [finding for finding in report.findings if finding.rule == rule]


# ------------------------------------------------------------------------------------------------
# The sandbox pair
# ------------------------------------------------------------------------------------------------


def test_the_pair_replicates_by_gtid_and_the_replica_is_read_only(replica_pair, servers):
    primary, replica = servers
    with connect(primary) as conn, conn.cursor() as cur:
        cur.execute("UPDATE countries SET name = 'Deutschland' WHERE code = 'DE'")
    replica_pair.wait_for_replica()
    with connect(replica) as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM countries WHERE code = 'DE'")
        assert cur.fetchone()[0] == "Deutschland"
        cur.execute("SELECT @@global.read_only, @@global.server_id")
        assert cur.fetchone() == (1, 2)
        cur.execute("SHOW SLAVE STATUS")
        status = dict(zip([column[0] for column in cur.description], cur.fetchone()))
    assert status["Slave_SQL_Running"] == "Yes" and status["Using_Gtid"] == "Slave_Pos"
    with connect(primary) as conn, conn.cursor() as cur:
        cur.execute("UPDATE countries SET name = 'Germany' WHERE code = 'DE'")
    replica_pair.wait_for_replica()


# ------------------------------------------------------------------------------------------------
# The routing mistakes, found with their fixes
# ------------------------------------------------------------------------------------------------


def test_reading_its_own_write_from_the_replica_is_found_with_a_wait_that_runs(servers, rename_report):
    report = rename_report
    [finding] = found(report, "read_after_write_on_replica")
    assert finding.table == "customers" and finding.severity.value == "high"
    occurrence = finding.evidence["occurrences"][0]
    assert [o["request"] for o in finding.evidence["occurrences"]] == [1, 2]
    assert occurrence["server"] == "replica1" and occurrence["write_server"] == "primary"
    assert occurrence["same_key"] == ["id"]
    assert occurrence["write_sql"].startswith("UPDATE customers SET name = 'Ada Lovelace' WHERE id = 42")
    assert "route this read to the primary" in finding.suggestion
    # The printed wait is real SQL: on the replica it returns 0 (caught up to that position).
    wait = finding.evidence["wait_sql"]
    assert wait in finding.suggestion and wait.startswith("SELECT MASTER_GTID_WAIT('0-1-")
    with connect(servers[1]) as conn, conn.cursor() as cur:
        cur.execute(wait)
        assert cur.fetchone()[0] == 0
    # None of it elsewhere: the UPDATE and the audit INSERT ran on the primary.
    assert not found(report, "write_on_replica") and not found(report, "read_on_primary")


def test_the_fix_reading_back_on_the_primary_is_not_flagged(servers, app_url):
    report = capture(servers, app_url, ["/customers/42/name?read=primary"], "POST", '{"name": "Ada"}')
    assert not found(report, "read_after_write_on_replica")
    assert not found(report, "read_on_primary")  # after a write to customers: the primary is right


def test_a_replica_safe_read_on_the_primary_is_found(servers, app_url):
    report = capture(servers, app_url, ["/customers/42/summary"])
    assert_both_restored(servers)
    tables = sorted(finding.table for finding in found(report, "read_on_primary"))
    assert tables == ["customers", "orders"]
    finding = found(report, "read_on_primary")[0]
    assert "send it to the read pool" in finding.suggestion and "useMaster" in finding.suggestion
    assert not found(report, "read_after_write_on_replica")


@pytest.mark.parametrize("paths, method, body", [
    (["/products?category=7", "/countries", "/customers/by-email?email=customer42@example.com"], "GET", None),
    (["/orders/ship"], "POST", '{"tracking_code": "TRK000000042"}'),
], ids=["reads-on-the-replica", "a-write-on-the-primary"])
def test_correctly_routed_endpoints_raise_no_routing_finding(servers, app_url, paths, method, body):
    report = capture(servers, app_url, paths, method, body)
    assert [f.rule for f in report.findings if f.rule in ROUTING_RULES] == []
    per_server = {server: count for routing in report.summary.routing for server, count in routing.statements}
    assert per_server == ({"primary": 0, "replica1": 1} if method == "GET" else {"primary": 1, "replica1": 0})


def test_a_write_sent_to_the_replica_is_found_though_read_only_refused_it(servers, replica_pair, tmp_path):
    primary, replica = servers
    with connect(primary) as conn, conn.cursor() as cur:  # replicated: the account exists on the replica too
        cur.execute("CREATE USER IF NOT EXISTS 'qa_app'@'127.0.0.1' IDENTIFIED BY 'app-secret'")
        cur.execute("GRANT SELECT, INSERT, UPDATE ON shop.* TO 'qa_app'@'127.0.0.1'")
    replica_pair.wait_for_replica()
    writer = tmp_path / "write_to_replica.py"
    writer.write_text(
        "import pymysql\n"
        f"c = pymysql.connect(host='127.0.0.1', port={replica.port}, user='qa_app', password='app-secret', "
        "database='shop')\n"
        "try:\n"
        "    c.cursor().execute(\"UPDATE countries SET name = 'X' WHERE code = 'FR'\")\n"
        "except pymysql.MySQLError as exc:\n"
        "    assert exc.args[0] == 1290, exc\n"
        "else:\n"
        "    raise SystemExit('read_only did not refuse the write')\n")
    result = run_replicated_capture(primary, [replica], CapturePlan(command=f"{sys.executable} {writer}"))
    assert result.outcomes[0].status == 0
    report = analyze_stream(result, AnalysisOptions(settings=primary))
    [finding] = found(report, "write_on_replica")
    assert finding.table == "countries" and finding.evidence["occurrences"][0]["server"] == "replica1"
    assert "ERROR 1290" in finding.message
    assert_both_restored(servers)


def test_an_audit_row_nothing_reads_back_is_a_deferrable_write_with_its_share(servers, app_url):
    report = capture(servers, app_url, ["/customers/42/name?read=primary"], "POST", '{"name": "Ada"}')
    [finding] = found(report, "deferrable_write")
    assert finding.table == "audit_log"
    [occurrence] = finding.evidence["occurrences"]
    writes = [q for q in report.queries if q.group.kind.is_write]
    assert occurrence["basis"] == "time"  # the sandbox runs performance_schema: every write is timed
    total = sum(q.group.total_query_time for q in writes)
    audit = next(q for q in writes if q.model.target_table == "audit_log").group.total_query_time
    assert occurrence["share_of_write_cost"] == pytest.approx(audit / total, abs=1e-4)
    assert f"{audit / total * 100:.0f}% of the request's write cost" in finding.message
    assert "queue" in finding.suggestion
    # The UPDATE is the request's first write: its purpose, never a candidate.
    assert not [f for f in report.findings if f.rule == "deferrable_write" and f.table == "customers"]


def test_the_summary_gives_statements_per_server_and_the_replica_lag_per_request(rename_report):
    report = rename_report
    assert [r.request for r in report.summary.routing] == [1, 2]
    for routing in report.summary.routing:
        assert routing.statements == (("primary", 2), ("replica1", 1))
        [lag] = routing.lag
        assert lag.server == "replica1" and lag.seconds_behind is not None
        assert lag.primary_gtid.startswith("0-1-") and lag.replica_gtid.startswith("0-1-")
    assert dict(next(q for q in report.queries if q.group.kind.value == "select").group.servers) == {"replica1": 2}
    assert [role.label for role in report.source.servers] == ["primary", "replica1"]
    assert report.source.servers[1].read_only is True and report.source.servers[0].max_connections == 200


# ------------------------------------------------------------------------------------------------
# The capacity plan, against figures computed by hand
# ------------------------------------------------------------------------------------------------


def test_capacity_plan_matches_the_hand_computed_figures(rename_report):
    report = rename_report
    plan = report.capacity
    figures = {figure.name: figure for figure in plan.figures}
    rps = 5_000_000 / 60  # 83,333.3 requests/s, all of them to the one endpoint
    # One request: UPDATE customers + INSERT audit_log on the primary, SELECT customers on the replica.
    assert figures["writer statements"].value == pytest.approx(2 * rps)
    assert figures["writes on the writer"].value == pytest.approx(2 * rps)
    assert figures["reader statements"].value == pytest.approx(rps)
    assert figures["replica-safe reads still on the writer"].value == 0
    assert figures["replicas needed"].value == math.ceil(rps / 30_000) == 3
    # Two captured requests: per request, half of each shape's total time.
    times = {q.group.kind.value: q.group.total_query_time / 2 for q in report.queries}
    writer_time = rps * (times["update"] + times["insert"])
    reader_time = rps * times["select"]
    assert figures["writer database time"].value == pytest.approx(writer_time, rel=1e-5)
    assert figures["reader database time"].value == pytest.approx(reader_time, rel=1e-5)
    assert figures["writer pool per app instance"].value == math.ceil(writer_time / 20)
    assert figures["reader pool per app instance"].value == math.ceil(reader_time / 20)
    limit = figures["writer connections against max_connections"]
    assert limit.value == math.ceil(writer_time / 20) * 20 and "max_connections 200" in limit.how
    # Each figure shows its inputs.
    assert "83333.3 x 2" in figures["writer statements"].how and "2 captured request(s)" in \
        figures["rate of POST " + report.source.endpoints[0].split(" ", 1)[1]].how
    assert "/ 30000 per replica" in figures["replicas needed"].how
    assert [w.table for w in plan.bounding_writes] and {w.share for w in plan.bounding_writes} == {0.5}
    assert [w.per_second for w in plan.bounding_writes] == pytest.approx([rps, rps])
    assert {w.table for w in plan.bounding_writes} == {"customers", "audit_log"}
    assert not any("one application instance" in a for a in plan.assumptions)
    assert any("equal shares" in a for a in plan.assumptions)


def test_capacity_plan_weights_the_mix_and_names_the_unknowns(servers, app_url):
    from query_audit.advise.capacity import CapacityTarget

    target = CapacityTarget(1000, "--target-rps 1000", weights=(3, 1))
    report = capture(servers, app_url, ["/customers/42/summary", "/countries"], capacity=target)
    figures = {figure.name: figure for figure in report.capacity.figures}
    # summary: 2 reads on the primary (replica-safe); countries: 1 read on the replica.
    assert figures["writer statements"].value == pytest.approx(750 * 2)
    assert figures["replica-safe reads still on the writer"].value == pytest.approx(750 * 2)
    assert figures["reader statements"].value == pytest.approx(250 * 1)
    assert figures["replicas needed"].value is None and "--replica-budget" in figures["replicas needed"].how
    assert any("one application instance" in a for a in report.capacity.assumptions)
    assert not any("equal shares" in a for a in report.capacity.assumptions)


# ------------------------------------------------------------------------------------------------
# Restore on both servers, on every way out
# ------------------------------------------------------------------------------------------------


def start_cli(args, tmp_path):
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    env.pop("QUERY_AUDIT_DSN", None)
    return subprocess.Popen([sys.executable, "-m", "query_audit", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_log_on(settings, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while log_settings(settings)[0] != 1:
        assert time.monotonic() < deadline, "the capture never switched the general log on"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_restores_the_primary_and_the_replica(servers, tmp_path, signum):
    primary, replica = servers
    child = start_cli(["capture", "--dsn", primary.to_dsn(), "--replica-dsn", replica.to_dsn(),
                       "--run", "sleep 30"], tmp_path)
    wait_for_log_on(primary)
    wait_for_log_on(replica)
    assert state_path(primary, {"QUERY_AUDIT_STATE_DIR": str(tmp_path / "state")}).exists()
    assert state_path(replica, {"QUERY_AUDIT_STATE_DIR": str(tmp_path / "state")}).exists()
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 2 and "restored" in err and "Traceback" not in err, err
    for settings in servers:
        assert log_settings(settings) == (0, "FILE")
    assert not list((tmp_path / "state").glob("capture-*.json"))


def test_killed_connections_on_both_servers_reconnect_and_restore(servers, tmp_path):
    primary, replica = servers
    killer = tmp_path / "kill_others.py"
    killer.write_text(
        "import pymysql\n"
        f"for port in ({primary.port}, {replica.port}):\n"
        "    c = pymysql.connect(host='127.0.0.1', port=port, user='root', database='shop')\n"
        "    cur = c.cursor()\n"
        "    cur.execute('SELECT name FROM countries WHERE code = %s', ('IT',))\n"
        "    cur.execute(\"SELECT id FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() "
        "AND user = 'root' AND command <> 'Daemon'\")\n"
        "    for (thread,) in cur.fetchall():\n"
        "        try: cur.execute(f'KILL {thread}')\n"
        "        except pymysql.MySQLError: pass\n")
    result = run_replicated_capture(primary, [replica], CapturePlan(command=f"{sys.executable} {killer}"))
    assert_both_restored(servers)
    ran = {(s.server, s.sql) for s in result.statements}
    assert ("primary", "SELECT name FROM countries WHERE code = 'IT'") in ran
    assert ("replica1", "SELECT name FROM countries WHERE code = 'IT'") in ran


def test_a_replica_that_refuses_the_change_leaves_the_primary_restored(servers, replica_pair):
    primary, replica = servers
    with connect(primary) as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS 'qa_reader'@'127.0.0.1' IDENTIFIED BY 'reader-secret'")
        cur.execute("GRANT SELECT ON *.* TO 'qa_reader'@'127.0.0.1'")
    replica_pair.wait_for_replica()
    weak = replace(replica, user="qa_reader", password="reader-secret")
    from query_audit.errors import MissingPrivilege

    with pytest.raises(MissingPrivilege):
        run_replicated_capture(primary, [weak], CapturePlan(command="true"))
    assert_both_restored(servers)


def test_replication_threads_statements_are_not_the_applications(servers, replica_pair, tmp_path):
    primary, replica = servers
    writer = tmp_path / "write.py"
    writer.write_text(
        "import pymysql\n"
        f"c = pymysql.connect(host='127.0.0.1', port={primary.port}, user='root', database='shop', autocommit=True)\n"
        "c.cursor().execute(\"UPDATE countries SET name = 'Italia' WHERE code = 'IT'\")\n"
        f"import subprocess\n")
    plan = CapturePlan(command=f"{sys.executable} {writer} && sleep 0.5")
    result = run_replicated_capture(primary, [replica], plan)
    assert [(s.server, s.sql) for s in result.statements if "Italia" in s.sql] == \
        [("primary", "UPDATE countries SET name = 'Italia' WHERE code = 'IT'")]
    assert not [s for s in result.statements if s.server == "replica1"]


# ------------------------------------------------------------------------------------------------
# The reports for people and the JSON contract
# ------------------------------------------------------------------------------------------------


def test_every_report_format_shows_the_routing_and_the_plan(rename_report):
    from query_audit.report import Format, render
    from tests.test_report_json import validate

    for fmt in (Format.TEXT, Format.MARKDOWN, Format.RICH):
        text = " ".join(render(rename_report, fmt, width=100).split())  # the words, wherever lines wrap
        assert "Replica routing" in text or "REPLICA ROUTING" in text, fmt
        assert "replica1 1" in text and "Little's law" in text and "5000000 / 60" in text, fmt
        assert "writes that bound the plan" in text and "assumptions" in text, fmt
    document = json.loads(render(rename_report, Format.JSON))
    validate(document)
    assert document["routing"][0]["statements"] == {"primary": 2, "replica1": 1}
    assert [s["label"] for s in document["servers"]] == ["primary", "replica1"]
    assert "secret" not in json.dumps(document)
    figures = {f["name"]: f for f in document["capacity"]["figures"]}
    assert figures["replicas needed"]["value"] == 3
    select = next(q for q in document["queries"] if q["kind"] == "select")
    assert select["servers"] == {"replica1": 2}


def test_a_one_server_report_has_no_replica_keys(servers, app_url):
    from query_audit.capture.session import run_capture
    from query_audit.report import Format, render

    requests = build_requests((app_url + "/countries",), "GET", (), None)
    result = run_capture(servers[0], CapturePlan(requests=tuple(requests)))
    document = json.loads(render(analyze_stream(result, AnalysisOptions(settings=servers[0])), Format.JSON))
    assert not {"servers", "routing", "capacity"} & set(document)
    assert all("servers" not in query for query in document["queries"])
    assert not [f for f in document["findings"] if f["rule"] in ROUTING_RULES]


def test_the_cli_plans_for_5m_requests_per_minute_as_json(servers, app_url, tmp_path):
    primary, replica = servers
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
    env.pop("QUERY_AUDIT_DSN", None)
    done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--dsn", primary.to_dsn(),
                           "--replica-dsn", replica.to_dsn(), "--endpoint", app_url + "/customers/42/summary",
                           "--endpoint", app_url + "/countries", "--weight", "1", "--weight", "4",
                           "--target-rpm", "5000000", "--app-instances", "10", "--format", "json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["capacity"]
    assert plan["target_rps"] == pytest.approx(5_000_000 / 60)
    figures = {f["name"]: f for f in plan["figures"]}
    # 1/5 of the load reads twice on the primary (summary), 4/5 once on the replica (countries).
    assert figures["writer statements"]["value"] == pytest.approx(5_000_000 / 60 / 5 * 2, rel=1e-6)
    assert figures["reader statements"]["value"] == pytest.approx(5_000_000 / 60 * 4 / 5, rel=1e-6)
    assert plan["bounding_writes"] == []


@pytest.mark.parametrize("args, message", [
    (["--target-rps", "10", "--target-rpm", "600"], "not both"),
    (["--weight", "1"], "need --target-rps or --target-rpm"),
    (["--target-rps", "10", "--weight", "1", "--weight", "2"], "one per endpoint"),
    (["--target-rps", "0"], "--target-rps"),
])
def test_capacity_options_misused_are_one_line_exit_2(args, message, tmp_path):
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "query_audit", "capture", "--dsn", "mysql://root@127.0.0.1:1/x",
                           "--endpoint", "http://127.0.0.1:1/a", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_plan_without_replicas_counts_every_replica_safe_read_and_reads_max_connections(servers, app_url):
    from query_audit.advise.capacity import CapacityTarget
    from query_audit.capture.session import run_capture

    requests = build_requests((app_url + "/customers/42/summary",), "GET", (), None)
    result = run_capture(servers[0], CapturePlan(requests=tuple(requests)))
    target = CapacityTarget(500, "--target-rps 500", replica_budget=400)
    report = analyze_stream(result, AnalysisOptions(settings=servers[0], capacity=target))
    figures = {figure.name: figure for figure in report.capacity.figures}
    # A one-server capture of the primary: the endpoint's 2 reads, all replica-safe, none on a replica.
    assert figures["writer statements"].value == 1000 and figures["reader statements"].value == 0
    assert figures["replica-safe reads still on the writer"].value == 1000
    assert figures["replicas needed"].value == 3 and "no --replica-dsn" in figures["replicas needed"].how
    assert "max_connections 200" in figures["writer connections against max_connections"].how
    assert not [f for f in report.findings if f.rule in ROUTING_RULES]


def test_the_ci_gate_fails_on_a_new_read_of_its_own_write_from_the_replica(servers, app_url, tmp_path):
    primary, replica = servers
    env = dict(os.environ, QUERY_AUDIT_STATE_DIR=str(tmp_path / "state"))
    env.pop("QUERY_AUDIT_DSN", None)
    baseline = tmp_path / "baseline.json"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "query_audit", *args, "--baseline", str(baseline),
                               "--fail-on", "read_after_write_on_replica", "--dsn", primary.to_dsn(),
                               "--replica-dsn", replica.to_dsn(), "--data", '{"name": "Ada"}'],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)

    fixed = run("baseline", "create", "--endpoint", app_url + "/customers/42/name?read=primary")
    assert fixed.returncode == 0 and "written with 0 entries" in fixed.stderr, fixed.stderr
    broken = run("check", "-q", "--endpoint", app_url + "/customers/42/name")
    assert broken.returncode == 1, broken.stderr
    assert "gate failed: 1 new finding(s): read_after_write_on_replica on customers" in broken.stderr
    assert_both_restored(servers)
