"""Where a statement came from: sqlcommenter and Rails query log tag comments, read from the SQL."""

import pytest

from query_audit.analyze.attribution import parse_origin, parse_tags, without_tags
from query_audit.analyze.fingerprint import fingerprint
from query_audit.model import Origin


def test_sqlcommenter_keys_are_url_decoded_and_file_is_split_from_its_line():
    sql = "SELECT * FROM orders /*action='index',controller='orders',file='app.js%3A42',route='%2Forders'*/"
    assert parse_origin(sql) == Origin(route="/orders", controller="orders", action="index", file="app.js", line=42)


def test_rails_query_log_tags_give_application_controller_and_action():
    sql = "SELECT posts.* FROM posts /*application:Blog,controller:posts,action:index*/"
    origin = parse_origin(sql)
    assert (origin.application, origin.controller, origin.action, origin.file) == ("Blog", "posts", "index", None)
    assert origin.endpoint == "posts#index"


def test_a_separate_line_key_and_a_column_after_the_line_are_understood():
    assert parse_origin("SELECT 1 /*file='src%2Fa.ts',line='7'*/").line == 7
    origin = parse_origin("SELECT 1 /*file='src%2Fa.ts%3A7%3A13'*/")
    assert (origin.file, origin.line) == ("src/a.ts", 7)


@pytest.mark.parametrize("sql", [
    "SELECT 1",
    "SELECT 1 /* just a remark */",
    "SELECT /*+ MAX_EXECUTION_TIME(100) */ 1",
    "SELECT 1 /*!40001 SQL_NO_CACHE */",
    "SELECT 1 /*db_driver='x'*/",  # tags, but none that says where
    "SELECT 1 /*controller='a' junk*/",
    "/*controller='orders'*/ SELECT 1 FROM t WHERE a = 1",  # a leading comment is not where the tags go
])
def test_statements_without_an_attribution_comment_have_no_origin(sql):
    assert parse_origin(sql) is None


def test_hostile_values_are_decoded_as_text_and_bounded():
    origin = parse_origin("SELECT 1 /*route='%3C%2Fscript%3E" + "x" * 1000 + "'*/")
    assert origin.route.startswith("</script>") and len(origin.route) == 300


def test_the_fingerprint_and_so_the_query_id_ignore_the_comment():
    tagged = "SELECT * FROM orders WHERE id = 7 /*controller='orders',file='app.js%3A42'*/"
    assert fingerprint(tagged) == fingerprint("SELECT * FROM orders WHERE id = 7")


def test_an_escaped_quote_inside_a_value_is_kept():
    assert parse_tags(r"SELECT 1 /*action='it\'s'*/") == {"action": "it's"}


def test_without_tags_cuts_only_an_attribution_comment():
    assert without_tags("SELECT 1 /*controller='a',file='b.py%3A3'*/") == "SELECT 1"
    assert without_tags("SELECT 1 /* a remark */") == "SELECT 1 /* a remark */"
    assert without_tags("SELECT /*+ BKA(t) */ 1") == "SELECT /*+ BKA(t) */ 1"


def test_a_rewritten_in_list_carries_no_attribution_comment():
    from query_audit.advise.rewrite import as_in_list, loop_key

    samples = [f"SELECT * FROM items WHERE order_id = {n} /*controller='orders',file='a.py%3A9'*/" for n in (1, 2)]
    rewritten = as_in_list(samples, loop_key(samples))
    assert rewritten == "SELECT * FROM items WHERE order_id IN (1, 2)"
