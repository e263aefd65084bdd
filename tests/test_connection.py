from dataclasses import replace
from pathlib import Path

import pytest

from query_audit.connection import (
    ConnectionSettings,
    connect,
    detect_server,
    parse_dsn,
    resolve_settings,
    server_info_from,
)
from query_audit.errors import ConnectionFailed, QueryAuditError


def test_dsn_parts_are_url_unquoted():
    settings = parse_dsn("mysql://app%40corp:p%40ss%3Aw0rd@db.internal:3307/shop%2Dv2")
    assert (settings.user, settings.password, settings.host, settings.port, settings.database) == \
        ("app@corp", "p@ss:w0rd", "db.internal", 3307, "shop-v2")


def test_dsn_socket_and_ssl_options():
    settings = parse_dsn("mysql://root@localhost/test?socket=/run/mysqld/mysqld.sock&ssl_ca=/etc/ca.pem")
    assert settings.socket == "/run/mysqld/mysqld.sock"
    assert settings.ssl == {"ssl_ca": "/etc/ca.pem"}


@pytest.mark.parametrize("dsn", ["postgres://u@h/db", "mysql://u@h:notaport/db"])
def test_malformed_dsn_is_a_one_line_error(dsn):
    with pytest.raises(QueryAuditError, match="invalid DSN"):
        parse_dsn(dsn)


def test_password_never_in_repr_or_describe():
    settings = parse_dsn("mysql://app:Sup3r-secret@h:3306/db")
    assert "Sup3r-secret" not in repr(settings)
    assert "Sup3r-secret" not in settings.describe()
    assert "Sup3r-secret" not in settings.to_dsn()
    assert "Sup3r-secret" in settings.to_dsn(with_password=True)


def test_option_file_client_group_then_dsn_overrides(tmp_path: Path):
    cnf = tmp_path / "my.cnf"
    cnf.write_text("[mysql]\nuser=ignored\n[client]\nuser = app\npassword = \"from file\"\nport=3310\n"
                   "host=db.local\n")
    settings = resolve_settings(dsn=None, defaults_file=str(cnf))
    assert (settings.user, settings.password, settings.port, settings.host) == ("app", "from file", 3310, "db.local")
    settings = resolve_settings(dsn="mysql://other@db2/shop", defaults_file=str(cnf))
    assert (settings.user, settings.password, settings.host, settings.database) == ("other", "from file", "db2", "shop")


def test_dsn_over_home_my_cnf(tmp_path: Path):
    # QUERY_AUDIT_DSN reaches resolve_settings as `dsn` through the command line: tests/test_cli.py.
    (tmp_path / ".my.cnf").write_text("[client]\npassword=pw\n")
    settings = resolve_settings(dsn="mysql://u@h:1234/d", home=tmp_path)
    assert (settings.user, settings.password, settings.port) == ("u", "pw", 1234)


def test_missing_option_file_is_an_error():
    with pytest.raises(QueryAuditError, match="cannot read option file"):
        resolve_settings(defaults_file="/nonexistent/my.cnf")


@pytest.mark.parametrize("version, comment, aurora, flavor", [
    ("10.11.19-MariaDB-0+deb12u1", "Debian 12", None, "mariadb"),
    ("8.0.40", "MySQL Community Server - GPL", None, "mysql"),
    ("8.0.32", "Source distribution", "3.05.2", "aurora-mysql"),
])
def test_server_flavor(version, comment, aurora, flavor):
    assert server_info_from(version, comment, aurora).flavor == flavor


def test_detects_the_real_test_server(server):
    info = detect_server(server)
    assert info.flavor in ("mariadb", "mysql")
    assert info.version[0].isdigit()


def test_bad_password_unknown_database_and_no_server_fail_cleanly(server_settings):
    cases = [
        (replace(server_settings, password="Wr0ng-pw"), "access denied"),
        (replace(server_settings, database="no_such_db_qa"), "unknown database"),
        (ConnectionSettings(host="127.0.0.1", port=9), "cannot connect"),
    ]
    for settings, expected in cases:
        with pytest.raises(ConnectionFailed) as caught:
            connect(settings)
        message = str(caught.value)
        assert expected in message
        assert "Wr0ng-pw" not in message
        assert "\n" not in message


@pytest.mark.parametrize("dsn", ["mysql://qa:MyLongSecretPrefix#tail@host/db", "mysql://qa:MyLong/SecretPrefix@h/db",
                                 "mysql://qa:MyLongSecretPrefix?tail@host:33/db"])
def test_a_malformed_dsn_error_holds_no_part_of_the_password(dsn):
    with pytest.raises(QueryAuditError, match="invalid DSN") as caught:
        parse_dsn(dsn)
    message = str(caught.value)
    assert "MyLong" not in message and "SecretPrefix" not in message and "tail" not in message
    assert "%23" in message  # says how to write a # in a password


def test_a_command_that_needs_a_server_is_never_given_root_at_localhost_by_default(tmp_path: Path):
    with pytest.raises(QueryAuditError, match="no server given"):
        resolve_settings(home=tmp_path, required=True)
    (tmp_path / ".my.cnf").write_text("[mysqld]\nport=3310\n")  # no [client] group: still nothing named
    with pytest.raises(QueryAuditError, match="no server given"):
        resolve_settings(home=tmp_path, required=True)
    (tmp_path / ".my.cnf").write_text("[client]\nhost=db.local\n")
    assert resolve_settings(home=tmp_path, required=True).host == "db.local"
    assert resolve_settings(dsn="mysql://u@h:1/d", home=tmp_path / "x",
                            required=True).address == "h:1"


def test_address_names_the_server_without_user_or_password():
    assert parse_dsn("mysql://app:pw@db.internal:3307/shop").address == "db.internal:3307"
    assert parse_dsn("mysql://root@localhost/test?socket=/run/m.sock").address == "/run/m.sock"


def test_the_run_child_does_not_inherit_the_dsn():
    from query_audit.capture.replay import child_environment

    child = child_environment({"QUERY_AUDIT_DSN": "mysql://u:pw@h/d", "PATH": "/bin"})
    assert child == {"PATH": "/bin"}
def test_no_ssl_context_for_the_machine_s_own_server_unless_asked(server_settings, monkeypatch):
    """PyMySQL builds a default SSL context for every connection without SSL options (to try TLS);
    to a loopback address or a socket we say ssl_disabled, so none is built."""
    import pymysql.connections

    built = []
    real = pymysql.connections.Connection._create_ssl_ctx
    monkeypatch.setattr(pymysql.connections.Connection, "_create_ssl_ctx",
                        lambda self, sslp: built.append(sslp) or real(self, sslp))
    assert server_settings.host in ("127.0.0.1", "localhost") or server_settings.socket
    with connect(server_settings) as conn:
        assert conn.ssl is False
    assert built == []
    # Any other host keeps PyMySQL's opportunistic TLS (the context is built before connecting).
    with pytest.raises(ConnectionFailed):
        connect(replace(server_settings, host="127.0.0.2", socket=None, port=9))  # not named loopback: refused
    assert built == [{}]
