"""Registry of sandbox services, in start order (later ones may use earlier settings)."""

from __future__ import annotations

import importlib

from elt_sandbox.services.base import Service


def all_services() -> list[Service]:
    # Imported lazily so that a broken optional stand-in cannot stop the others from loading.
    from elt_sandbox.services.postgres import PostgresService
    from elt_sandbox.services.s3 import S3Service

    services: list[Service] = [PostgresService(), S3Service()]
    for module_name, class_name in API_SERVICES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # that stand-in is not built yet
            raise
        services.append(getattr(module, class_name)())
    return services


# The API and file stand-ins, in start order: (module, class). Each follows `Service`.
API_SERVICES: list[tuple[str, str]] = [
    ("elt_sandbox.services.stripe_api", "StripeService"),
    ("elt_sandbox.services.crm_api", "CrmService"),
    ("elt_sandbox.services.csv_exports", "CsvExportsService"),
]


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
