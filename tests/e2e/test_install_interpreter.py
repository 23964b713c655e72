"""The suite's plugin install (tests/e2e/install.py) rebuilds a plugin venv another Python
made: Meltano itself keeps it while the pip_url is unchanged, so after `./dev.sh` chose a
new interpreter every plugin kept running on the old one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import install


@pytest.fixture()
def plugin_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """dbt-duckdb's venv in a system directory of its own, made by this Python."""
    monkeypatch.setattr(install, "SYS_DIR", tmp_path)
    venv = tmp_path / "utilities" / "dbt-duckdb" / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def test_a_venv_of_this_python_is_kept(plugin_venv: Path) -> None:
    assert install.venv_interpreter(plugin_venv) == install.this_interpreter()
    assert install.made_by_this_interpreter("dbt-duckdb")


def test_a_venv_of_another_python_is_made_again(plugin_venv: Path) -> None:
    config = plugin_venv / "pyvenv.cfg"
    lines = config.read_text().splitlines()
    other = ["home = /opt/other-python/bin" if line.startswith("home") else line for line in lines]
    config.write_text("\n".join(other) + "\n")
    assert not install.made_by_this_interpreter("dbt-duckdb")


def test_a_venv_of_another_version_is_made_again(plugin_venv: Path) -> None:
    config = plugin_venv / "pyvenv.cfg"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("version")]
    config.write_text("\n".join([*lines, "version = 3.9.0"]) + "\n")
    assert not install.made_by_this_interpreter("dbt-duckdb")


def test_a_venv_without_its_config_is_made_again(plugin_venv: Path) -> None:
    (plugin_venv / "pyvenv.cfg").unlink()
    assert not install.made_by_this_interpreter("dbt-duckdb")


def test_a_new_venv_gets_the_bytecode_of_every_module_once(plugin_venv: Path) -> None:
    """uv writes no `.pyc` and this machine sets PYTHONDONTWRITEBYTECODE: without this,
    every plugin process compiled each module it imported at every start."""
    [site] = plugin_venv.glob("lib/python*/site-packages")
    (site / "plugin_module.py").write_text("VALUE = 1\n")
    assert install.venvs_without_bytecode(["dbt-duckdb"]) == ["dbt-duckdb"]
    install.compile_venvs(["dbt-duckdb"])
    assert list((site / "__pycache__").glob("plugin_module.*.pyc"))
    assert install.venvs_without_bytecode(["dbt-duckdb"]) == []
