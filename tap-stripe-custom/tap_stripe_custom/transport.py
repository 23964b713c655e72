"""Where the API key may be sent: https anywhere, plain http only to loopback."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from singer_sdk.exceptions import ConfigValidationError


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_safe_api_base(api_base: str, allow_insecure_http: bool = False) -> None:
    """Refuse an `api_base` that would send the key in clear text to another machine.

    Raised before any request, naming the setting; the URL's host is shown, never more.
    """
    parts = urlsplit(api_base)
    host = parts.hostname
    if parts.scheme == "https" and host:
        return
    if parts.scheme != "http" or not host:
        raise ConfigValidationError(
            "Config validation failed",
            errors=[f"api_base must be an https:// URL (got scheme {parts.scheme!r})"],
        )
    if is_loopback(host) or allow_insecure_http:
        return
    raise ConfigValidationError(
        "Config validation failed",
        errors=[
            f"api_base is http://{host}: the API key would travel unencrypted to a host that "
            "is not loopback. Use https://, or set allow_insecure_http: true if that network "
            "is trusted."
        ],
    )
