"""The S3 stand-in is moto's server mode for S3 alone: the demo's virtualenv installs (and
compiles) only what that needs. moto's `server` extra brings every AWS service's
dependencies (cfn-lint, sympy, networkx, docker, ...: 3,435 more .py files, 8.6 s more
CPU in `./dev.sh demo`'s install)."""

from __future__ import annotations

import importlib.metadata

from packaging.requirements import Requirement


def test_moto_is_required_for_s3_in_server_mode_only() -> None:
    requirements = {
        (r := Requirement(text)).name: r for text in importlib.metadata.requires("elt-sandbox")
    }
    assert requirements["moto"].extras == {"s3"}
    assert {"flask", "flask-cors"} <= set(requirements)  # what moto.server itself imports


def test_the_s3_stand_in_serves_a_bucket(s3_env) -> None:
    """moto.server started with those dependencies only answers S3 (the lake's bucket)."""
    from elt_sandbox.services.s3 import LAKE_BUCKET, s3_client

    client = s3_client(s3_env)
    client.put_object(Bucket=LAKE_BUCKET, Key="deps-check/x.txt", Body=b"ok")
    body = client.get_object(Bucket=LAKE_BUCKET, Key="deps-check/x.txt")["Body"].read()
    assert body == b"ok"
    client.delete_object(Bucket=LAKE_BUCKET, Key="deps-check/x.txt")
