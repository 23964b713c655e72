"""No plugin requires a second distribution of a module singer-sdk already installs.

singer-sdk installs the `backoff` module from `python-backoff`; two taps also required the
older `backoff` distribution, which installs the same `backoff/` files. uv installs wheels
in parallel, so which file won differed from one install to the next: a new project's
tap-legacy-crm venv got `__init__.py` from one and `_common.py` from the other and failed
to import ("cannot import name 'Attempt' from 'backoff._common'").

(The suite's own virtualenv holds both anyway: `gql`, a test dependency, requires
`backoff`; the plugins' virtualenvs are what users install.)
"""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.conftest import REPO_ROOT

# distribution singer-sdk requires -> the other distribution installing the same module
SAME_MODULE = {"python-backoff": "backoff"}
PLUGIN_PROJECTS = sorted(REPO_ROOT.glob("*/pyproject.toml"))


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


@pytest.mark.parametrize("pyproject", PLUGIN_PROJECTS, ids=lambda path: path.parent.name)
def test_no_second_distribution_of_a_module_singer_sdk_installs(pyproject) -> None:
    dependencies = tomllib.loads(pyproject.read_text()).get("project", {}).get("dependencies", [])
    names = {requirement_name(requirement) for requirement in dependencies}
    clashing = names & set(SAME_MODULE.values())
    assert not clashing, f"{pyproject}: require {sorted(SAME_MODULE)} instead of {clashing}"
