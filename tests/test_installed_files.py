"""No two installed distributions own the same file.

singer-sdk installs the `backoff` module from `python-backoff`; two taps also required the
older `backoff` distribution, which installs the same `backoff/` files. uv installs wheels
in parallel, so which file won differed from one install to the next: a new project's
tap-legacy-crm venv got `__init__.py` from one and `_common.py` from the other and failed
to import ("cannot import name 'Attempt' from 'backoff._common'"). Checked on this
suite's virtualenv, where every plugin package and its dependencies are installed.
"""

from __future__ import annotations

from collections import defaultdict
from importlib import metadata

# dbt's namespace markers: dbt-core, dbt-adapters and every adapter ship their own
# `__init__.py` for these packages, different in bytes (comments, docstrings) but each
# only `extend_path`s `__path__`, so whichever is written last works.
NAMESPACE_MARKERS = frozenset(
    {"dbt/__init__.py", "dbt/adapters/__init__.py", "dbt/include/__init__.py"}
)


def owned_files() -> dict[str, dict[str, str]]:
    """Each installed file (not bytecode, not metadata) -> {distribution: its hash}."""
    owners: dict[str, dict[str, str]] = defaultdict(dict)
    for dist in metadata.distributions():
        for path in dist.files or ():
            name = str(path)
            if "__pycache__" in name or ".dist-info/" in name or name.startswith(".."):
                continue
            owners[name][dist.metadata["Name"]] = path.hash.value if path.hash else ""
    return owners


def test_no_file_belongs_to_two_distributions() -> None:
    """Two owners with the same bytes (dbt's namespace `__init__.py`, which dbt-core and
    every adapter ship) are harmless: whichever is written last is the same file."""
    clashes = {
        path: owners
        for path, owners in owned_files().items()
        if len(owners) > 1 and len(set(owners.values())) > 1 and path not in NAMESPACE_MARKERS
    }
    assert not clashes, sorted(clashes.items())[:20]
