"""Each plugin's generated Meltano plugin definition: current, complete, and usable by
another Meltano project through `meltano add --from-ref`."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from elt_sandbox.crm_api.data import build as crm_build

from scripts import plugin_definitions as defs
from tests.conftest import TEST_SCALE
from tests.e2e.install import MELTANO, isolated_env

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
    # with the repository the file names: a clone elsewhere (CI's) has another upstream
    source = defs.committed_source(plugin_dir)
    assert committed == defs.render(plugin_dir, about, source)


@pytest.mark.parametrize("plugin_dir", PLUGIN_DIRS, ids=lambda p: p.name)
def test_committed_lock_file_equals_a_fresh_generation(plugin_dir) -> None:
    """meltano.yml resolves the plugin's settings from this file: it must be current."""
    about = defs.read_about(plugin_dir.name)
    lock = json.loads(defs.lock_path(plugin_dir).read_text())
    source = defs.committed_source(plugin_dir)
    assert defs.lock_path(plugin_dir).read_text() == defs.render_lock(plugin_dir, about, source)
    definition = yaml.safe_load(defs.definition_path(plugin_dir).read_text())
    assert lock["settings"] == definition["settings"]
    assert (lock["plugin_type"], lock["variant"]) == (
        f"{defs.plugin_type(plugin_dir.name)}s",
        defs.VARIANT,
    )


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
    assert definition["pip_url"].endswith(f"#subdirectory={plugin_dir.name}")


def _resolve(pip_url: str) -> tuple[Path, str]:
    """(local repository, subdirectory) of a `git+file://...#subdirectory=...` pip_url."""
    assert pip_url.startswith("git+file:///"), f"{pip_url} does not install on this machine"
    location, _, fragment = pip_url.removeprefix("git+file://").partition("#subdirectory=")
    return Path(location), fragment


@pytest.mark.parametrize("plugin_dir", PLUGIN_DIRS, ids=lambda p: p.name)
def test_committed_pip_url_resolves_on_this_machine_unedited(plugin_dir) -> None:
    """The committed pip_url names a git repository whose HEAD holds this plugin's package
    with its console script: what `meltano install` clones and builds."""
    definition = yaml.safe_load(defs.definition_path(plugin_dir).read_text())
    repo, subdirectory = _resolve(definition["pip_url"])
    assert subdirectory == plugin_dir.name
    pyproject = subprocess.run(
        ["git", "-C", str(repo), "show", f"HEAD:{subdirectory}/pyproject.toml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pyproject.returncode == 0, pyproject.stderr
    scripts = tomllib.loads(pyproject.stdout)["project"]["scripts"]
    assert definition["executable"] in scripts


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_source_repository_follows_local_clones_to_the_upstream(tmp_path, monkeypatch) -> None:
    """Worktrees and local clones of one repository generate the same pip_url; a clone of
    a published repository uses its URL; the setting overrides both."""
    monkeypatch.delenv(defs.GIT_URL_VARIABLE, raising=False)
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    _git(upstream, "init", "-q")
    _git(
        upstream,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(upstream), str(clone))
    worktree = tmp_path / "worktree"
    _git(clone, "worktree", "add", "-q", str(worktree))

    assert defs.source_repository(upstream) == upstream.as_uri()
    assert defs.source_repository(clone) == upstream.as_uri()
    assert defs.source_repository(worktree) == upstream.as_uri()

    _git(upstream, "remote", "add", "origin", "https://github.com/acme/elt-plugins.git")
    assert defs.source_repository(worktree) == "https://github.com/acme/elt-plugins.git"

    monkeypatch.setenv(defs.GIT_URL_VARIABLE, "https://example.org/fork.git")
    assert defs.source_repository(worktree) == "https://example.org/fork.git"
    assert defs.pip_url(PLUGIN_DIRS[0], defs.source_repository(worktree)) == (
        f"git+https://example.org/fork.git#subdirectory={PLUGIN_DIRS[0].name}"
    )


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


@pytest.mark.e2e
def test_a_new_meltano_project_installs_a_plugin_from_the_committed_file_unedited(
    tmp_path,
) -> None:
    """`meltano add --from-ref <committed file>` then `meltano install`, as an adopter on
    this machine would (the smallest plugin; every pip_url is checked to resolve above)."""
    plugin_dir = next(p for p in PLUGIN_DIRS if p.name == "tap-legacy-crm")
    project = tmp_path / "adopter"
    project.mkdir()
    (project / "meltano.yml").write_text(
        "default_environment: dev\nproject_id: adopter\nsend_anonymous_usage_stats: false\n"
        "environments:\n- name: dev\n"
    )
    env = isolated_env(project)
    ref = str(defs.definition_path(plugin_dir))
    for args in (
        ["add", "--plugin-type", "extractor", plugin_dir.name, "--from-ref", ref, "--no-install"],
        ["install"],
        ["invoke", plugin_dir.name, "--about", "--format", "json"],
    ):
        result = subprocess.run(
            [MELTANO, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["name"] == plugin_dir.name
