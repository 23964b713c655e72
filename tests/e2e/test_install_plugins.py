"""The demo's plugin install writes bytecode for what a plugin imports, and only that
(scripts/install_plugins.py), in a real virtualenv under PYTHONDONTWRITEBYTECODE."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import install_plugins


def test_entry_modules_are_read_from_the_console_script() -> None:
    script = (
        "#!/venv/bin/python\nimport sys\nfrom tap_x.tap import TapX\n"
        "if __name__ == '__main__':\n    sys.exit(TapX.cli())\n"
    )
    assert install_plugins.entry_modules(script) == ["tap_x.tap"]


@pytest.fixture()
def plugin_project(tmp_path: Path) -> Path:
    """A project with one plugin virtualenv: a package whose CLI imports one helper module
    and leaves another alone, and a console script like the ones pip writes."""
    venv = tmp_path / ".meltano" / "extractors" / "tap-x" / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python3*/site-packages")
    package = site / "tap_x"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tap.py").write_text("from tap_x import helper\n")
    (package / "helper.py").write_text("VALUE = 1\n")
    (package / "unused.py").write_text("VALUE = 2\n")
    (venv / "bin" / "tap-x").write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom tap_x.tap import main\n"
    )
    return tmp_path


def test_bytecode_is_written_for_the_imported_modules_only(
    plugin_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    install_plugins.compile_imported(plugin_project, "tap-x")
    [site] = plugin_project.glob(".meltano/extractors/tap-x/venv/lib/python3*/site-packages")
    compiled = {path.name.split(".")[0] for path in (site / "tap_x").glob("__pycache__/*.pyc")}
    assert compiled == {"__init__", "tap", "helper"}
    # the setting is lifted for that one process, not for the caller
    assert os.environ["PYTHONDONTWRITEBYTECODE"] == "1"
