"""Start, stop and inspect a sandbox from Python (the CLI and the test fixtures use this)."""

from __future__ import annotations

from elt_sandbox.runtime import SandboxHome
from elt_sandbox.services import all_services, by_name


def up(
    home: SandboxHome | None = None, scale: float = 1.0, services: list[str] | None = None
) -> dict[str, str]:
    """Start the named services (all by default) and return every setting clients need.

    Settings of services already running in this home are included, so the env file always
    describes the whole sandbox.
    """
    home = home or SandboxHome.default()
    env: dict[str, str] = dict(home.load_state().get("_env", {}).get("values", {}))
    for service in by_name(services):
        env.update(service.up(home, scale, env))
        home.save_service("_env", {"values": env})
    home.write_env(env)
    return env


def down(home: SandboxHome | None = None) -> None:
    home = home or SandboxHome.default()
    for service in reversed(all_services()):
        service.down(home)
    home.forget_service("_env")
    if home.env_file.exists():
        home.env_file.unlink()


def status(home: SandboxHome | None = None) -> dict[str, str]:
    home = home or SandboxHome.default()
    return {service.name: service.status(home) for service in all_services()}
