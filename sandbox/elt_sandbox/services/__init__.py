"""Registry of sandbox services, in start order (later ones may use earlier settings)."""

from __future__ import annotations

from elt_sandbox.services.base import Service


def all_services() -> list[Service]:
    # Imported lazily so that a broken optional stand-in cannot stop the others from loading.
    from elt_sandbox.services.postgres import PostgresService
    from elt_sandbox.services.s3 import S3Service

    services: list[Service] = [PostgresService(), S3Service()]
    for module_name, class_name in OPTIONAL_SERVICES:
        module = __import__(module_name, fromlist=[class_name])
        services.append(getattr(module, class_name)())
    return services


# Stand-ins added by later work: (module, class). Each follows `Service`.
OPTIONAL_SERVICES: list[tuple[str, str]] = []


def by_name(names: list[str] | None) -> list[Service]:
    services = all_services()
    if not names:
        return services
    known = {service.name: service for service in services}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(
            f"unknown sandbox service(s): {', '.join(unknown)}; known: {sorted(known)}"
        )
    return [service for service in services if service.name in names]
