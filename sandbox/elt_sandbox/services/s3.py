"""An S3-compatible endpoint standing in for MinIO: moto's server mode over HTTP."""

from __future__ import annotations

from collections.abc import Mapping

from elt_sandbox.runtime import (
    SandboxHome,
    free_port,
    python_module_argv,
    spawn,
    wait_for_port,
)
from elt_sandbox.services.base import Service

ACCESS_KEY = "sandbox-access-key"
SECRET_KEY = "sandbox-secret-key"
REGION = "us-east-1"
LAKE_BUCKET = "lake"


def s3_client(env: Mapping[str, str]):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


class S3Service(Service):
    name = "s3"

    def up(self, home: SandboxHome, scale: float, env: Mapping[str, str]) -> dict[str, str]:
        record = home.load_state().get(self.name)
        if record and self.running_record(home, record["scale"]):
            port = record["port"]
        else:
            port = free_port()
            argv = python_module_argv("moto.server", "-H", "127.0.0.1", "-p", str(port))
            pid = spawn(self.name, argv, home)
            wait_for_port(port)
            home.save_service(
                self.name,
                {"pid": pid, "port": port, "scale": scale, "where": f"http://127.0.0.1:{port}"},
            )
        settings = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "LAKE_BUCKET": LAKE_BUCKET,
            # DuckDB's httpfs wants the endpoint as host:port, without the scheme.
            "LAKE_S3_ENDPOINT": f"127.0.0.1:{port}",
        }
        client = s3_client(settings)
        existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
        if LAKE_BUCKET not in existing:
            client.create_bucket(Bucket=LAKE_BUCKET)
        return settings
