"""Where the bearer token may be sent: refuse plain http:// beyond this machine.

Checked once, when the tap starts, so a wrong `api_url` fails before any request carries
the token anywhere.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_url_problem(url: str, allow_insecure_http: bool = False) -> str | None:
    """Why the token must not go to `url` (naming the setting to change), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"api_url must be an http(s) URL with a host, got scheme {parts.scheme!r}"
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        return (
            f"api_url uses plain http:// to {parts.hostname}, which would send api_token "
            "unencrypted: use https://, or set allow_insecure_http: true if this network "
            "is trusted"
        )
    return None
