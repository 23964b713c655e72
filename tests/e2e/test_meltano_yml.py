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
def test_every_setting_in_meltano_yml_exists_in_the_plugin(plugin_dir) -> None:
    """meltano.yml mirrors the plugin's config_jsonschema; a setting only in meltano.yml
    is a typo or a removed setting that Meltano would pass on silently."""
    (plugin,) = [p for p in project_plugins() if p["name"] == plugin_dir.name]
    declared = set(defs.read_about(plugin_dir.name)["settings"]["properties"])
    mirrored = {setting["name"] for setting in plugin.get("settings", [])}
    assert mirrored <= declared, mirrored - declared
