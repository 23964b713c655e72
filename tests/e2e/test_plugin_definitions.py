"""Each plugin's generated Meltano plugin definition: current, complete, and usable by
another Meltano project through `meltano add --from-ref`."""

from __future__ import annotations

import json
import subprocess

import pyarrow.parquet as pq
import pytest
import yaml
from elt_sandbox.crm_api.data import build as crm_build

from scripts import plugin_definitions as defs
from tests.conftest import TEST_SCALE
from tests.e2e.conftest import MELTANO, isolated_env

PLUGIN_DIRS = defs.plugin_dirs()


def test_every_plugin_ships_a_definition() -> None:
    names = {path.name for path in PLUGIN_DIRS}
    assert names == {
        "tap-ecommerce-postgres",
        "tap-stripe-custom",
        "tap-legacy-crm",
        "tap-csv-marketing",
        "target-minio-parquet",
    }
    for plugin_dir in PLUGIN_DIRS:
        assert defs.definition_path(plugin_dir).exists(), plugin_dir.name


@pytest.mark.parametrize("plugin_dir", PLUGIN_DIRS, ids=lambda p: p.name)
def test_committed_definition_equals_a_fresh_generation(plugin_dir) -> None:
    """Fails when someone changes a plugin's settings without regenerating the file:
    run `.venv/bin/python -m scripts.plugin_definitions`."""
    about = defs.read_about(plugin_dir.name)
    committed = defs.definition_path(plugin_dir).read_text()
    assert committed == defs.render(plugin_dir, about)


@pytest.mark.parametrize("plugin_dir", PLUGIN_DIRS, ids=lambda p: p.name)
def test_definition_declares_every_setting_of_the_plugin(plugin_dir) -> None:
    about = defs.read_about(plugin_dir.name)
    definition = yaml.safe_load(defs.definition_path(plugin_dir).read_text())
    settings = {s["name"]: s for s in definition["settings"]}
    properties = about["settings"]["properties"]
    assert list(settings) == list(properties)
    for name, schema in properties.items():
        entry = settings[name]
        assert entry["description"] in (schema.get("description"), schema.get("title"))
        assert entry["sensitive"] is bool(schema.get("secret") or schema.get("writeOnly"))
        assert entry["kind"] == defs.setting_kind(schema)
    assert definition["pip_url"].startswith("git+https://")
    assert definition["pip_url"].endswith(f"#subdirectory={plugin_dir.name}")


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        ({"type": ["string", "null"]}, "string"),
        ({"type": ["string"], "format": "date-time"}, "date_iso8601"),
        ({"type": ["integer", "null"]}, "integer"),
        ({"type": ["number", "null"]}, "decimal"),
        ({"type": ["boolean", "null"]}, "boolean"),
        ({"type": ["object", "null"]}, "object"),
        ({"type": ["array", "null"]}, "array"),
        ({"type": ["string", "null"], "enum": ["a", "b"]}, "options"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "string"),
    ],
)
def test_setting_kind_follows_the_json_type(schema, kind) -> None:
    assert defs.setting_kind(schema) == kind


def test_secret_and_write_only_settings_are_sensitive() -> None:
    secret = defs.setting("k", {"type": ["string"], "secret": True, "description": "d"})
    write_only = defs.setting("k", {"type": ["string"], "writeOnly": True, "description": "d"})
    plain = defs.setting("k", {"type": ["string"], "description": "d", "default": "x"})
    assert secret["sensitive"] and write_only["sensitive"]
    assert plain["sensitive"] is False and plain["value"] == "x"


def _add_from_ref(project, env, plugin_dir) -> None:
    """`meltano add --from-ref` with the definition's pip_url pointed at this checkout."""
    definition = yaml.safe_load(defs.definition_path(plugin_dir).read_text())
    definition["pip_url"] = f"-e {plugin_dir}"
    ref = project / f"{plugin_dir.name}.yml"
    ref.write_text(yaml.safe_dump(definition, sort_keys=False))
    plugin_type = defs.plugin_type(plugin_dir.name)
    result = subprocess.run(
        [MELTANO, "add", "--plugin-type", plugin_type, plugin_dir.name, "--from-ref", str(ref)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.e2e
@pytest.mark.slow
def test_a_new_meltano_project_adds_every_plugin_from_its_definition_and_runs_it(
    tmp_path, crm_env
) -> None:
    project = tmp_path / "adopter"
    project.mkdir()
    (project / "meltano.yml").write_text(
        "default_environment: dev\nproject_id: adopter\nsend_anonymous_usage_stats: false\n"
        "environments:\n- name: dev\n"
    )
    env = isolated_env(project)
    for plugin_dir in PLUGIN_DIRS:
        _add_from_ref(project, env, plugin_dir)

    added = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]
    for plugin_dir in PLUGIN_DIRS:
        kind = "loaders" if plugin_dir.name.startswith("target-") else "extractors"
        (entry,) = [p for p in added[kind] if p["name"] == plugin_dir.name]
        definition = yaml.safe_load(defs.definition_path(plugin_dir).read_text())
        assert entry["settings"] == definition["settings"]
        invoked = subprocess.run(
            [MELTANO, "invoke", plugin_dir.name, "--about", "--format", "json"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert invoked.returncode == 0, invoked.stderr[-2000:]
        assert json.loads(invoked.stdout)["name"] == plugin_dir.name

    # Settings declared by the definitions reach the plugins: strings by env var, a
    # decimal through meltano.yml (Meltano 4.4.1 cannot serialise a decimal read from an
    # env var: "Object of type Decimal is not JSON serializable").
    for name, value in (("backoff_base_seconds", "0.1"), ("backoff_max_seconds", "2")):
        subprocess.run(
            [MELTANO, "config", "set", "tap-legacy-crm", name, value],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    lake = tmp_path / "lake"
    run_env = {
        **env,
        "TAP_LEGACY_CRM_API_URL": crm_env["SANDBOX_CRM_API_URL"],
        "TAP_LEGACY_CRM_API_TOKEN": crm_env["SANDBOX_CRM_API_TOKEN"],
        "TARGET_MINIO_PARQUET_DESTINATION": str(lake),
    }
    result = subprocess.run(
        [MELTANO, "run", "tap-legacy-crm", "target-minio-parquet"],
        cwd=project,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    ids = pq.read_table(lake / "tap_legacy_crm" / "customers", columns=["id"]).column("id")
    assert len(set(ids.to_pylist())) == len(crm_build(TEST_SCALE).distinct_ids)
