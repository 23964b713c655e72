"""A job whose loader lacks required settings fails before the tap starts, and says why
in its first line (scripts/check_config.py, run by scripts/run_job.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import yaml

from scripts import check_config
from tests import warm_start
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import MeltanoRunner
from tests.e2e.install import isolated_env

SNOWFLAKE_VARS = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD")
# the Stripe tap's one required setting, so that the loader's are the ones missing
STRIPE_KEY = {"SANDBOX_STRIPE_API_KEY": "sk_test_not_a_real_key"}


def without_snowflake(env: dict[str, str]) -> dict[str, str]:
    """The environment with the Stripe key and no Snowflake setting."""
    return {**{k: v for k, v in env.items() if not k.startswith("SNOWFLAKE_")}, **STRIPE_KEY}


def run_job(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.run_job", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_snowflake_job_without_settings_fails_first_naming_them(tmp_path) -> None:
    env = without_snowflake(isolated_env(tmp_path))
    started = time.monotonic()
    result = run_job(env, "stripe-to-snowflake")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("target-snowflake is missing required settings: account (set ")
    for variable in SNOWFLAKE_VARS:
        assert variable in first
    # Nothing ran: Meltano never created its system database, so no tap started.
    assert not (tmp_path / "meltano.db").exists()
    assert elapsed < 60


def test_a_complete_alternative_group_passes_and_secrets_are_not_printed(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "xy12345")
    monkeypatch.setenv("SANDBOX_STRIPE_API_KEY", STRIPE_KEY["SANDBOX_STRIPE_API_KEY"])
    monkeypatch.setenv("SNOWFLAKE_USER", "loader")
    monkeypatch.delenv("SNOWFLAKE_PASSWORD", raising=False)
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{tmp_path / 'meltano.db'}")
    (gap,) = check_config.missing_settings("target-snowflake", REPO_ROOT)
    assert gap.name in ("password", "private_key_path")
    monkeypatch.setenv("TARGET_SNOWFLAKE_PRIVATE_KEY_PATH", str(tmp_path / "key.p8"))
    assert check_config.check(["stripe-to-snowflake"], REPO_ROOT) == []
    monkeypatch.delenv("TARGET_SNOWFLAKE_PRIVATE_KEY_PATH")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "s3cr3t-value")
    monkeypatch.delenv("SNOWFLAKE_USER")
    (line,) = check_config.check(["stripe-to-snowflake"], REPO_ROOT)
    assert "user (set SNOWFLAKE_USER or TARGET_SNOWFLAKE_USER)" in line
    assert "s3cr3t-value" not in line and "xy12345" not in line


def test_plugins_of_a_job_and_of_a_plain_block() -> None:
    assert check_config.plugins_of(["stripe-to-snowflake"], REPO_ROOT) == [
        "tap-stripe-custom",
        "target-snowflake",
    ]
    assert check_config.plugins_of(["ecommerce-elt"], REPO_ROOT) == [
        "tap-ecommerce-postgres",
        "target-minio-parquet",
        "tap-stripe-custom",
        "tap-legacy-crm",
        "tap-csv-marketing",
    ]
    assert check_config.plugins_of(["tap-legacy-crm", "target-jsonl"], REPO_ROOT) == [
        "tap-legacy-crm",
        "target-jsonl",
    ]


@pytest.mark.e2e
def test_snowflake_groups_cover_what_the_installed_target_requires(dev_runner) -> None:
    """Each alternative group holds every setting target-snowflake itself requires, and
    every setting meltano.yml declares for it exists in the plugin."""
    about = json.loads(
        dev_runner.run("invoke", "target-snowflake", "--about", "--format", "json").stdout
    )
    required = set(about["settings"]["required"])
    assert required, "target-snowflake declares no required settings"
    meltano_yml = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    (plugin,) = [p for p in meltano_yml["plugins"]["loaders"] if p["name"] == "target-snowflake"]
    for group in plugin["settings_group_validation"]:
        assert required <= set(group), group
    declared = {setting["name"] for setting in plugin["settings"]}
    assert declared <= set(about["settings"]["properties"])


def test_the_shop_tap_is_complete_with_a_url_alone_or_the_separate_settings(
    tmp_path, monkeypatch
) -> None:
    """`sqlalchemy_url` alone is a complete connection (its port included); without it the
    separate settings are required, and `port` is not among them (the URL or 5432)."""
    monkeypatch.setenv("MELTANO_DATABASE_URI", f"sqlite:///{tmp_path / 'meltano.db'}")
    monkeypatch.setenv("MELTANO_ENVIRONMENT", "prod")
    for name in ("SHOP_PG_HOST", "SHOP_PG_PORT", "SHOP_PG_USER", "SHOP_PG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DATABASE", "SQLALCHEMY_URL"):
        monkeypatch.delenv(f"TAP_ECOMMERCE_POSTGRES_{name}", raising=False)
    gaps = check_config.missing_settings("tap-ecommerce-postgres", REPO_ROOT)
    assert gaps and "port" not in {gap.name for gap in gaps}
    # prod configures the separate settings from SHOP_PG_*: those are named first, the
    # URL as the alternative (naming only `sqlalchemy_url` sent people the wrong way)
    assert [gap.name for gap in gaps] == ["host", "user", "password", "database"]
    (line,) = check_config.check(["tap-ecommerce-postgres"], REPO_ROOT)
    assert line.startswith(
        "tap-ecommerce-postgres is missing required settings: "
        "host (set SHOP_PG_HOST or TAP_ECOMMERCE_POSTGRES_HOST), "
    ), line
    assert line.endswith(
        "; or instead: sqlalchemy_url (set TAP_ECOMMERCE_POSTGRES_SQLALCHEMY_URL)"
    ), line
    monkeypatch.setenv(
        "TAP_ECOMMERCE_POSTGRES_SQLALCHEMY_URL", "postgresql://u:p@db.example:6543/shop"
    )
    assert check_config.missing_settings("tap-ecommerce-postgres", REPO_ROOT) == []


def test_a_job_and_schedule_of_an_include_paths_file_are_resolved_and_checked(tmp_path) -> None:
    """meltano.yml as Meltano reads it: a schedule declared in an `include_paths` file
    resolves to its job, and that job's plugins are checked before anything starts."""
    from scripts import run_job as wrapper
    from tests.elt_project.test_meltano_yml import project_with_include

    root = project_with_include(tmp_path / "project")
    assert wrapper.job_for("included-daily", root) == "included-job"
    assert check_config.plugins_of(["included-job"], root) == [
        "tap-stripe-custom",
        "target-snowflake",
    ]
    env = without_snowflake(isolated_env(tmp_path))
    result = run_job({**env, "MELTANO_PROJECT_ROOT": str(root)}, "included-daily")
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("target-snowflake is missing required settings: account (set ")
    assert not (tmp_path / "meltano.db").exists()  # nothing ran


def test_the_guard_checks_the_same_groups_meltano_yml_declares() -> None:
    """target-snowflake's executable is settings-guard (meltano.yml): its SETTINGS_GUARD
    holds the plugin's settings_group_validation and the names check_config gives."""
    meltano_yml = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    (plugin,) = [p for p in meltano_yml["plugins"]["loaders"] if p["name"] == "target-snowflake"]
    spec = json.loads(plugin["env"]["SETTINGS_GUARD"])
    assert plugin["executable"] == "settings-guard"
    assert spec["executable"] == "target-snowflake" == spec["plugin"]
    assert spec["groups"] == plugin["settings_group_validation"]
    for name in ("account", "user", "password"):
        assert spec["hints"][name] == f"SNOWFLAKE_{name.upper()} or TARGET_SNOWFLAKE_{name.upper()}"


@pytest.mark.e2e
def test_a_bare_meltano_run_into_snowflake_names_the_missing_settings_first(
    dev_runner,
) -> None:
    """The mission's literal command without credentials: Meltano's first error line is
    the guard's, naming each missing setting and its variables; nothing is loaded."""
    env = {k: v for k, v in dev_runner.env.items() if not k.startswith("SNOWFLAKE_")}
    runner = MeltanoRunner(env, dev_runner.workdir)
    # Meltano and both plugins cold, as a user starts them: a tap forked warm writes its
    # first lines within milliseconds, before the guard has exited, and Meltano 4.4 then
    # prints a BrokenPipeError traceback after the guard's message (its line writer's
    # `wait_closed` raises the broken pipe again: meltano/core/logging/utils.py)
    with warm_start.cold_starts():
        result = runner.run(
            "run", "tap-stripe-custom", "target-snowflake", check=False, timeout=300
        )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    errors = [line for line in lines if "[error" in line or "Traceback" in line]
    assert errors, result.stderr[-3000:]
    assert (
        "target-snowflake is missing required settings: account (set SNOWFLAKE_ACCOUNT"
        in (errors[0])
    ), errors[:3]
    for variable in SNOWFLAKE_VARS:
        assert variable in errors[0]
    assert not any("Traceback" in line for line in lines), result.stderr[-3000:]


@pytest.mark.parametrize("plugin_dir", ["tap-stripe-custom", "tap-legacy-crm", "tap-csv-marketing"])
def test_every_setting_a_tap_requires_is_in_each_group_meltano_yml_declares(
    plugin_dir: str,
) -> None:
    """The taps' own required settings (their config_jsonschema, as their Hub definition
    lists them) are checked before a job starts: prod without STRIPE_API_KEY is refused
    with its name, not after the Postgres tap ran."""
    definition = yaml.safe_load((REPO_ROOT / plugin_dir / f"{plugin_dir}.meltano.yml").read_text())
    (required,) = definition["settings_group_validation"]
    meltano_yml = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    (plugin,) = [p for p in meltano_yml["plugins"]["extractors"] if p["name"] == plugin_dir]
    groups = plugin.get("settings_group_validation")
    assert groups, f"{plugin_dir}: meltano.yml declares no settings_group_validation"
    for group in groups:
        assert set(required) <= set(group), group
