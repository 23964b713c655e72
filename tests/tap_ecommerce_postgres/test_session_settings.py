"""The tap's output must not depend on the server's or the role's settings.

A DBA's `ALTER ROLE ... SET extra_float_digits = 0` once gave floats with 15 digits on
every read path, and `IntervalStyle = sql_standard` other intervals. Here the fidelity
table (and the types whose text has a style: intervals, bytea, money) is read on every
path (the Arrow fast path, the SDK's record path, LOG_BASED changes rendered in Python
and by Postgres) under the defaults, then under hostile role settings: byte for byte the
same. The settings are the role's *in the scratch database only*, and reset afterwards
(the server is shared by the session's tests).
"""

from __future__ import annotations

import re

import pytest
from psycopg import sql

from tests.singer import run_singer
from tests.tap_ecommerce_postgres.conftest import TAP
from tests.tap_ecommerce_postgres.test_fidelity import SETUP as FIDELITY

HOSTILE = {
    "extra_float_digits": "0",
    "IntervalStyle": "sql_standard",
    "bytea_output": "escape",
    "DateStyle": "SQL, DMY",
    "TimeZone": "America/New_York",
    "standard_conforming_strings": "off",
    "client_encoding": "LATIN1",
}
STYLED = """
create table styled.styled (
    id int primary key, span interval, spans interval[], raw bytea, price money,
    third float8, tiny real, moment timestamptz, day date
);
insert into styled.styled values
 (1, '1 year 2 mons 3 days 04:05:06.789', '{"-1 day -02:00:00", "3 mons"}', '\\x00ff5c27',
  12345.67, 1.0 / 3, 0.1, '2025-01-02 03:04:05.678+02', '2024-02-29'),
 (2, '-3 days', '{}', '\\x', -0.5, 1e300, 3.4e38, '-infinity', '0001-01-01');
"""
TIME_EXTRACTED = re.compile(r',"time_extracted":"[^"]*"')


def stdout(config: dict, tmp_path, state: dict | None = None) -> tuple[str, dict]:
    run = run_singer(TAP, config, tmp_path, state=state)
    lines = [
        TIME_EXTRACTED.sub("", line)
        for line in run.result.stdout.splitlines()
        if line.startswith('{"type":"RECORD"') or line.startswith('{"type": "RECORD"')
    ]
    assert lines, run.result.stderr[-2000:]
    return "\n".join(lines), run.states[-1]


@pytest.fixture()
def styled_db(tap_config, scratch_conn, cdc):
    """Schema `styled`: the fidelity table and the styled types; LOG_BASED needs `cdc`'s
    logical decoding (its fixture drops the slots afterwards)."""
    setup = FIDELITY.replace("fidelity", "styled.fidelity").replace("mood", "styled.mood")
    scratch_conn.execute("drop schema if exists styled cascade; create schema styled")
    scratch_conn.execute(setup + STYLED)
    yield {**tap_config, "schemas": ["styled"]}
    scratch_conn.execute("drop schema styled cascade")


def test_output_is_the_same_under_hostile_role_settings(
    styled_db, scratch_conn, tmp_path, monkeypatch
) -> None:
    config = styled_db
    log_based = {
        **config,
        "log_based_prefix": "styled",
        "stream_options": {
            "styled-fidelity": {"replication_method": "LOG_BASED"},
            "styled-styled": {"replication_method": "LOG_BASED"},
        },
    }
    _, state = stdout(log_based, tmp_path)  # the snapshot; the changes follow
    scratch_conn.execute(
        "insert into styled.fidelity select id + 100, small, big, money_exact, free_numeric,"
        " real_value, double_value, flag, naive, zoned, day, clock, doc, docb, ints, texts,"
        " uid, raw, feeling, note, floats, amounts from styled.fidelity;"
        "insert into styled.styled select id + 100, span, spans, raw, price, third, tiny,"
        " moment, day from styled.styled"
    )
    paths = {
        "fast path": ({}, config, None),
        "SDK record path": ({"TAP_ECOMMERCE_POSTGRES_SDK_RECORD_PATH": "1"}, config, None),
        "changes in Python": ({}, log_based, state),
        "changes by Postgres": (
            {"TAP_ECOMMERCE_POSTGRES_CDC_POSTGRES_RENDERING": "1"},
            log_based,
            state,
        ),
    }

    def outputs() -> dict[str, str]:
        found = {}
        for name, (env, path_config, path_state) in paths.items():
            with monkeypatch.context() as patched:
                for key, value in env.items():
                    patched.setenv(key, value)
                found[name] = stdout(path_config, tmp_path, path_state)[0]
        return found

    defaults = outputs()
    role = sql.Identifier(config["user"])
    database = sql.Identifier(config["database"])
    try:
        for name, value in HOSTILE.items():
            scratch_conn.execute(
                sql.SQL("alter role {} in database {} set {} = {}").format(
                    role, database, sql.Identifier(name), sql.Literal(value)
                )
            )
        hostile = outputs()
    finally:
        scratch_conn.execute(
            sql.SQL("alter role {} in database {} reset all").format(role, database)
        )
    for name in paths:
        assert hostile[name] == defaults[name], name
