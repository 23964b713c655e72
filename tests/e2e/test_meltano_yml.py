"""meltano.yml as another project (or `meltano config`) reads it: every setting whole."""

from __future__ import annotations

import inspect

import pytest
import yaml
from meltano.core.setting_definition import SettingDefinition

from scripts import plugin_definitions as defs
from tests.conftest import REPO_ROOT

# The keys Meltano's SettingDefinition accepts. An unquoted comma inside a flow mapping
# (`{description: a, b}`) ends the description and turns the rest into a stray key.
SETTING_KEYS = set(inspect.signature(SettingDefinition.__init__).parameters) - {"self"}


def project_plugins() -> list[dict]:
    plugins = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())["plugins"]
    return [plugin for kind in plugins.values() for plugin in kind]


def all_settings() -> list[tuple[str, dict]]:
    return [
        (plugin["name"], setting)
        for plugin in project_plugins()
        for setting in plugin.get("settings", [])
    ]


@pytest.mark.parametrize(
    ("plugin", "setting"), all_settings(), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_setting_has_no_stray_keys_from_a_cut_description(plugin: str, setting: dict) -> None:
    stray = set(setting) - SETTING_KEYS
    assert not stray, f"{plugin}.{setting['name']}: description cut at a comma: {stray}"
    assert setting.get("description"), f"{plugin}.{setting['name']} has no description"


@pytest.mark.parametrize("plugin_dir", defs.plugin_dirs(), ids=lambda p: p.name)
def test_own_plugins_take_every_setting_from_their_generated_lock_file(plugin_dir) -> None:
    """Settings are declared once, in the plugin's config_jsonschema: meltano.yml holds no
    copy, and Meltano (offline) resolves them from the generated lock file, equal to the
    plugin definition's, with namespace and executable."""
    from meltano.core.project import Project

    (raw,) = [p for p in project_plugins() if p["name"] == plugin_dir.name]
    assert raw.get("variant") == defs.VARIANT
    assert not {"settings", "namespace", "executable"} & set(raw), "an inline copy"
    project = Project(REPO_ROOT)
    plugin = project.plugins.ensure_parent(project.plugins.find_plugin(plugin_dir.name))
    definition = yaml.safe_load(defs.definition_path(plugin_dir).read_text())
    resolved = {  # `a.b` entries are Meltano's views of nested config values, not settings
        s.name: (str(s.kind.value), bool(s.sensitive))
        for s in plugin.all_settings
        if "." not in s.name
    }
    declared = {s["name"]: (s["kind"], s["sensitive"]) for s in definition["settings"]}
    assert resolved == declared
    assert (plugin.namespace, plugin.executable) == (
        definition["namespace"],
        definition["executable"],
    )
