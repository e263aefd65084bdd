from pathlib import Path

import pytest

from query_audit.connection import connect, parse_dsn
from query_audit.sandbox import start_sandbox
from query_audit.sandbox.local import local_server_binary


@pytest.mark.skipif(local_server_binary() is None, reason="no local server binary")
def test_local_sandbox_starts_a_private_server_and_removes_it_on_stop():
    sandbox = start_sandbox(prefer="local")
    try:
        settings = parse_dsn(sandbox.dsn)
        assert settings.port != 3306
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT DATABASE(), @@general_log")
            assert cur.fetchone() == ("test", 0)
        directory = Path(sandbox.info.directory)
        assert directory.is_dir()
    finally:
        sandbox.stop()
    assert not directory.exists()
