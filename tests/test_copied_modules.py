"""Modules copied between the taps stay one file.

Each plugin is its own installable package (and the Hub definitions install each from its
own subdirectory), so a module two taps need is copied rather than shared; a fix made in
one copy and not the others would make the taps behave apart without a word.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT

COPIED = ("raw_payloads.py", "run_boundary.py", "singer_output.py")


@pytest.mark.parametrize("name", COPIED)
def test_every_copy_of_a_shared_module_is_the_same_file(name: str) -> None:
    copies = sorted(REPO_ROOT.glob(f"tap-*/tap_*/{name}"))
    assert len(copies) >= 2, copies
    assert len({copy.read_bytes() for copy in copies}) == 1, copies
