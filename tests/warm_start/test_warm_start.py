"""The warm start keeps every contract of a cold start: the same output, exit status and
files for the same run, the run's own environment, a real process that kill -9 ends, and
a cold start for anything that is not a plain start of a plugin script."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests import warm_start
from tests.conftest import REPO_ROOT
from tests.target_minio_parquet.conftest import TARGET, record_message, schema_message
from tests.warm_start import popen_as

CSV_TAP = str(warm_start.BIN / "tap-csv-marketing")
# values that differ between any two runs: clocks, pids, durations, temporary names
VOLATILE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+"
    r'|"pid": ?\d+|"value": ?-?\d+(\.\d+)?(e-?\d+)?|\d+\.\d+ ?(s|seconds)\b|[0-9a-f]{8,}'
)


def run_with(popen: type, argv, **kwargs) -> subprocess.CompletedProcess:
    with popen_as(popen):
        return subprocess.run(argv, **kwargs)


# Each way a run can start, for tests that start runs through a helper of their own
STARTS = (("cold", warm_start.COLD_POPEN), ("warm", warm_start.WarmablePopen))


def run_cold(argv, **kwargs) -> subprocess.CompletedProcess:
    return run_with(warm_start.COLD_POPEN, argv, **kwargs)


def run_warm(argv, **kwargs) -> subprocess.CompletedProcess:
    return run_with(warm_start.WarmablePopen, argv, **kwargs)


def both(argv, **kwargs) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The same run started cold (the stdlib's Popen) and warm."""
    return run_cold(argv, **kwargs), run_warm(argv, **kwargs)


def masked(text: str) -> list[str]:
    return [VOLATILE.sub("<v>", line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def server() -> warm_start.Server:
    path = warm_start.PLUGIN_SERVER.socket_path()
    assert path, "the warm start server did not start (its error is on stderr)"
    return warm_start.PLUGIN_SERVER


def test_a_tap_prints_the_same_messages_and_logs(server, tmp_path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "marketing_spend_2025-01.csv").write_text(
        "date,channel,campaign_name,spend,impressions,clicks\n"
        "2025-01-01,email,c1,12.50,100,3\n2025-01-02,search,c2,7.25,50,1\n"
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"source": str(exports)}))
    cold, warm = both([CSV_TAP, "--config", str(config)], capture_output=True, text=True)
    assert cold.returncode == warm.returncode == 0, warm.stderr[-2000:]
    assert '"type": "RECORD"' in cold.stdout.replace('"type":"RECORD"', '"type": "RECORD"')
    assert masked(warm.stdout) == masked(cold.stdout)
    assert masked(warm.stderr) == masked(cold.stderr)


def test_a_target_writes_the_same_files_and_states(server, tmp_path) -> None:
    messages = [
        schema_message("orders", {"id": {"type": "integer"}, "n": {"type": "string"}}, ["id"]),
        *(record_message("orders", {"id": i, "n": f"o{i}"}) for i in range(50)),
        {"type": "STATE", "value": {"bookmarks": {"orders": {"id": 49}}}},
    ]
    payload = "".join(json.dumps(m) + "\n" for m in messages).encode()
    results, tables = [], []
    for run, name in ((run_cold, "cold"), (run_warm, "warm")):
        config = tmp_path / f"{name}.json"
        lake = tmp_path / name
        config.write_text(json.dumps({"destination": str(lake), "source_name": "shop"}))
        result = run([TARGET, "--config", str(config)], input=payload, capture_output=True)
        results.append(result)
        (part,) = lake.glob("shop/orders/*/*.parquet")
        tables.append(pq.read_table(part).select(["id", "n"]).to_pylist())
    cold, warm = results
    assert cold.returncode == warm.returncode == 0, warm.stderr[-2000:]
    assert warm.stdout == cold.stdout and b"bookmarks" in cold.stdout
    assert tables[0] == tables[1] and len(tables[0]) == 50


def test_a_failing_run_exits_and_says_why_alike(server, tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"source": str(tmp_path / "no-such-dir")}))
    for argv in ([CSV_TAP, "--config", str(config)], [CSV_TAP, "--no-such-option"]):
        cold, warm = both(argv, capture_output=True, text=True)
        assert cold.returncode == warm.returncode != 0
        assert masked(warm.stderr)[-3:] == masked(cold.stderr)[-3:]


def test_the_run_sees_its_own_environment_and_directory(server, tmp_path, monkeypatch) -> None:
    """Settings from the run's environment (`--config ENV`), not the server's, and a
    relative destination resolved from the run's own directory."""
    monkeypatch.setenv("TARGET_MINIO_PARQUET_SOURCE_NAME", "from_env")
    monkeypatch.setenv("TARGET_MINIO_PARQUET_DESTINATION", "lake")
    messages = [
        schema_message("s", {"id": {"type": "integer"}}, ["id"]),
        record_message("s", {"id": 1}),
    ]
    payload = "".join(json.dumps(m) + "\n" for m in messages).encode()
    warm = run_warm([TARGET, "--config", "ENV"], input=payload, capture_output=True, cwd=tmp_path)
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert list(tmp_path.glob("lake/from_env/s/*/*.parquet"))


def test_a_warm_process_is_a_process_kill_9_ends(server) -> None:
    process = warm_start.WarmablePopen(
        [TARGET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process._warm_started
    assert Path(f"/proc/{process.pid}").exists() and process.poll() is None
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    process.stdin.close()
    process.stdout.close()
    process.stderr.close()


@pytest.mark.parametrize(
    ("argv", "kwargs"),
    [
        ([sys.executable, "-c", "print(1)"], {}),  # not a plugin script
        (f"{TARGET} --about", {"shell": True}),  # through a shell
        ([TARGET, "--about"], {"start_new_session": True}),  # a session of its own
    ],
)
def test_anything_else_starts_cold(server, argv, kwargs) -> None:
    process = warm_start.WarmablePopen(argv, stdout=subprocess.PIPE, **kwargs)
    process.communicate(timeout=60)
    assert process.returncode == 0
    assert not process._warm_started


def dbt_run_in(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """`dbt <args>` as the transform tests start it (`run_dbt`), in a new target directory
    (every run parses the whole project)."""
    from tests.transform.conftest import run_dbt

    workdir.mkdir()
    settings = {"LAKE_ROOT": "lake", "DBT_DUCKDB_PATH": "warehouse.duckdb"}
    return run_dbt(workdir, args, settings, cwd=workdir)


def dbt_masked(text: str) -> list[str]:
    """`masked`, and dbt's clock at the start of each line (02:07:25)."""
    return [re.sub(r"\d\d:\d\d:\d\d", "<t>", line) for line in masked(text)]


def test_dbt_seeds_and_fails_alike(tmp_path) -> None:
    """dbt from its own server: the same seed loaded into DuckDB with the same results,
    the same refusal of an unknown option."""
    assert warm_start.DBT_SERVER.socket_path(), "the dbt warm start server did not start"
    seeded, refused = {}, {}
    for name, popen in STARTS:
        with popen_as(popen):
            seeded[name] = dbt_run_in(tmp_path / f"seed-{name}", "seed")
            refused[name] = dbt_run_in(tmp_path / f"bad-{name}", "build", "--no-such-option")
    assert seeded["cold"].returncode == seeded["warm"].returncode == 0, seeded["warm"].stdout
    assert "Completed successfully" in seeded["warm"].stdout
    assert dbt_masked(seeded["warm"].stdout) == dbt_masked(seeded["cold"].stdout)
    states = []
    for name in ("cold", "warm"):
        with duckdb.connect(str(tmp_path / f"seed-{name}" / "warehouse.duckdb")) as conn:
            states.append(conn.execute("select * from us_states order by all").fetchall())
    assert states[0] == states[1] and len(states[0]) > 50
    assert refused["cold"].returncode == refused["warm"].returncode == 2
    assert dbt_masked(refused["warm"].stderr) == dbt_masked(refused["cold"].stderr)


def test_the_wap_script_and_the_dbt_it_starts_run_warm_alike(tmp_path) -> None:
    """`python wap_publish.py`, forked by the dbt server, starts its dbt through the same
    server: the same refused build (dbt exits 2 on an unknown option), exit code, messages
    and attempt record as a cold run."""
    from tests.transform.wap import WAP_SCRIPT, run_wap, state

    assert str(WAP_SCRIPT) in warm_start.PYTHON_SCRIPTS
    results, attempts = {}, {}
    settings = {"LAKE_ROOT": "lake", "DBT_DUCKDB_PATH": "warehouse.duckdb"}
    for name, popen in STARTS:
        workdir = tmp_path / name
        workdir.mkdir()
        with popen_as(popen):
            results[name] = run_wap("duckdb", workdir, settings, "run-1", "--no-such")
        attempts[name] = state(workdir, "attempt.json")
    cold, warm = results["cold"], results["warm"]
    assert cold.returncode == warm.returncode == 2, warm.stderr[-2000:]
    assert "No such option" in warm.stdout + warm.stderr
    assert dbt_masked(warm.stdout) == dbt_masked(cold.stdout)
    assert dbt_masked(warm.stderr) == dbt_masked(cold.stderr)
    for attempt in attempts.values():
        for key in ("started_at", "finished_at", "staging_location"):
            attempt.pop(key, None)
    assert attempts["warm"] == attempts["cold"] and attempts["warm"]["published"] is False


MELTANO = str(warm_start.BIN / "meltano")


@pytest.fixture(scope="module")
def meltano_env(tmp_path_factory) -> dict[str, str]:
    """Meltano in the repository's project, as the end-to-end tests run it: the e2e plugins
    installed, a system database and run directory of this module's own."""
    from tests.e2e.conftest import private_sys_dir
    from tests.e2e.install import install_e2e_plugins, isolated_env

    install_e2e_plugins(tmp_path_factory.mktemp("meltano-install"), httpfs=False)
    workdir = tmp_path_factory.mktemp("warm-meltano")
    return {**isolated_env(workdir), "MELTANO_SYS_DIR_ROOT": str(private_sys_dir(workdir))}


def meltano_both(env: dict[str, str], *args: str):
    from tests.e2e.install import project_lock

    assert warm_start.MELTANO_SERVER.socket_path(), "the Meltano warm start server did not start"
    with project_lock(exclusive=False):
        return both(
            [MELTANO, *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )


def test_meltano_resolves_each_environments_settings_alike(meltano_env) -> None:
    """The run's own environment variables decide (`MELTANO_ENVIRONMENT`, read when the
    command runs, not when the server imported Meltano): the same settings cold and warm,
    and two environments' lakes differ."""
    destinations = {}
    for environment in ("dev", "minio"):
        env = {**meltano_env, "MELTANO_ENVIRONMENT": environment}
        cold, warm = meltano_both(env, "config", "print", "target-minio-parquet")
        assert cold.returncode == warm.returncode == 0, warm.stderr[-2000:]
        assert json.loads(warm.stdout) == json.loads(cold.stdout)
        destinations[environment] = json.loads(cold.stdout)["destination"]
    assert destinations["dev"] != destinations["minio"]
    assert destinations["minio"].startswith("s3://")


def test_meltano_invokes_a_plugin_as_its_child_alike(meltano_env) -> None:
    """A warm Meltano starts a plugin from the plugin's own virtualenv (an asyncio child
    of the forked process) and relays its output as a cold one does."""
    args = ("invoke", "target-minio-parquet", "--about", "--format=json")
    cold, warm = meltano_both(meltano_env, *args)
    assert cold.returncode == warm.returncode == 0, warm.stderr[-2000:]
    assert json.loads(warm.stdout) == json.loads(cold.stdout)
    assert json.loads(cold.stdout)["name"] == "target-minio-parquet"


def test_meltano_fails_alike(meltano_env) -> None:
    cold, warm = meltano_both(meltano_env, "run", "no-such-job-or-plugin")
    assert cold.returncode == warm.returncode != 0
    assert masked(warm.stderr)[-3:] == masked(cold.stderr)[-3:]


def venv_bin(kind: str, plugin: str) -> Path:
    return warm_start.MELTANO_VENVS / kind / plugin / "venv" / "bin"


def served_venvs() -> set[str]:
    """The virtualenvs whose servers this worker's warm Meltano runs have started."""
    directory = warm_start.MELTANO_SERVER.directory
    assert directory, "the Meltano warm start server did not start"
    venvs = Path(directory) / "venvs"
    return {path.name for path in venvs.iterdir() if not path.suffix}


def lake_digest(lake: Path) -> dict[str, tuple[int, str]]:
    """Rows and a digest of every stream's Parquet, without the `_sdc_*` columns (load
    times, batch ids): what two loads of the same exports must agree on."""
    digest = {}
    with duckdb.connect() as conn:
        for stream in sorted(path.name for path in (lake / "tap_csv_marketing").iterdir()):
            files = f"{lake}/tap_csv_marketing/{stream}/**/*.parquet"
            relation = conn.sql(f"select * from read_parquet('{files}', union_by_name = true)")
            columns = ", ".join(f'"{c}"' for c in relation.columns if not c.startswith("_sdc_"))
            digest[stream] = conn.execute(
                f"select count(*), md5(string_agg(row_text, '|' order by row_text)) from"
                f" (select ({columns})::varchar as row_text from read_parquet('{files}',"
                " union_by_name = true))"
            ).fetchone()
    return digest


def test_a_warm_meltano_runs_its_plugins_warm_alike(meltano_env, csv_env, tmp_path) -> None:
    """`meltano run tap-csv-marketing target-minio-parquet`: a warm Meltano forks the tap
    and the target from their own virtualenvs' servers (asyncio waits for them through
    the monitor), a cold Meltano starts both cold. The same exit, the same rows in each
    stream, the same state."""
    from tests.e2e.conftest import private_sys_dir
    from tests.e2e.install import project_lock

    assert warm_start.MELTANO_SERVER.socket_path(), "the Meltano warm start server did not start"
    results, lakes, states = {}, {}, {}
    for name, popen in STARTS:
        workdir = tmp_path / name
        workdir.mkdir()
        env = {
            **meltano_env,
            **csv_env,
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "MELTANO_SYS_DIR_ROOT": str(private_sys_dir(workdir)),
            "TARGET_MINIO_PARQUET_DESTINATION": str(workdir / "lake"),
        }
        with project_lock(exclusive=False), popen_as(popen):
            run = ("run", "tap-csv-marketing", "target-minio-parquet")
            results[name] = subprocess.run(
                [MELTANO, *run], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            state = subprocess.run(
                [MELTANO, "state", "get", "dev:tap-csv-marketing-to-target-minio-parquet"],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
        (states[name],) = masked(state.stdout.strip().splitlines()[-1])
        lakes[name] = lake_digest(workdir / "lake")
    cold, warm = results["cold"], results["warm"]
    assert cold.returncode == warm.returncode == 0, warm.stderr[-3000:]
    assert lakes["warm"] == lakes["cold"] and len(lakes["cold"]) >= 4
    loaded = {stream: rows for stream, (rows, _) in lakes["cold"].items()}
    assert all(rows > 0 for stream, rows in loaded.items() if "quarantine" not in stream), loaded
    assert states["warm"] == states["cold"] and "bookmarks" in states["cold"]
    served = served_venvs()
    for bin_dir in (
        venv_bin("extractors", "tap-csv-marketing"),
        venv_bin("loaders", "target-minio-parquet"),
    ):
        assert warm_start.venv_key(bin_dir) in served, f"no warm server for {bin_dir}"


def test_a_warm_meltanos_failing_plugin_fails_alike(meltano_env) -> None:
    """A plugin that exits non-zero under a warm Meltano (forked from its virtualenv's
    server): Meltano relays the same exit code and message."""
    cold, warm = meltano_both(meltano_env, "invoke", "target-minio-parquet", "--no-such-option")
    assert cold.returncode == warm.returncode == 2, warm.stderr[-2000:]
    assert "No such option" in warm.stderr
    assert masked(warm.stderr)[-3:] == masked(cold.stderr)[-3:]
    assert warm_start.venv_key(venv_bin("loaders", "target-minio-parquet")) in served_venvs()
