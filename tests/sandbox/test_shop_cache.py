"""The shop's rows are generated once per sandbox start: the seeding and the stand-ins
that derive theirs from them (Stripe, CRM) share one pickled copy (shop/generate.py)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from elt_sandbox.shop import generate
from elt_sandbox.shop.generate import SEED, SHOP_CACHE_ENV

SCALE = 0.01
GENERATE = (
    "import pickle, sys; from elt_sandbox.shop.generate import generate_shop; "
    f"sys.stdout.buffer.write(pickle.dumps(generate_shop({SCALE})))"
)


def generate_in_process(cache: Path | None) -> object:
    """generate_shop in a fresh interpreter (no lru_cache), with or without the cache."""
    env = {k: v for k, v in os.environ.items() if k != SHOP_CACHE_ENV}
    if cache is not None:
        env[SHOP_CACHE_ENV] = str(cache)
    result = subprocess.run(
        [sys.executable, "-c", GENERATE], env=env, capture_output=True, check=True
    )
    return pickle.loads(result.stdout)


def test_the_first_caller_leaves_the_rows_and_the_next_one_loads_them(tmp_path) -> None:
    cache = tmp_path / "cache"
    fresh = generate_in_process(None)
    assert generate_in_process(cache) == fresh
    [kept] = cache.iterdir()
    assert kept.name.startswith(f"shop-{SCALE!r}-{SEED}-") and kept.suffix == ".pickle"
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no partial file
    # the next process reads the file instead of generating: what it holds comes back
    marked = generate.ShopData(customers=[("marked",)], products=[], orders=[], order_items=[])
    kept.write_bytes(pickle.dumps(marked))
    assert generate_in_process(cache) == marked


def test_changed_generator_code_does_not_read_old_rows(tmp_path, monkeypatch) -> None:
    """The file name holds a hash of generate.py: other code, other file."""
    source = tmp_path / "generate.py"
    source.write_text(Path(generate.__file__).read_text() + "\n# changed\n")
    before = generate._source_hash()
    monkeypatch.setattr(generate, "__file__", str(source))
    assert generate._source_hash() != before


def test_the_sandbox_shares_one_copy_with_its_stand_ins(sandbox_home, pg_env, stripe_env) -> None:
    """After `up`, one copy of the rows lies under the sandbox home, for its processes."""
    files = list((sandbox_home.root / "cache").glob("shop-*.pickle"))
    assert len(files) == 1, files
    assert SHOP_CACHE_ENV not in os.environ  # set only while the services start
