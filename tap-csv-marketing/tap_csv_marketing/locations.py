"""Source addresses: redacting credentials, refusing unsafe or ambiguous ones. Pure functions.

An export URL often carries its credential (`...x.csv?token=...`, `https://user:pass@...`).
Everything the tap logs, stores in a record (`_sdc_source_file`, so the lake) or bookmarks
in the state uses `redact_url`, never the address itself. Addresses are refused before any
request when they would send data in clear text to another machine (`http://` to a host
that is not loopback, unless `allow_insecure_http`) or when their path could escape or
blur the lake layout built from it (`..` or empty segments).
"""

from __future__ import annotations

import ipaddress
import posixpath
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"
HTTP_SCHEMES = ("http", "https")
KNOWN_SCHEMES = ("http", "https", "s3")


class LocationError(ValueError):
    """An address the tap refuses; the message names the setting and never the secret."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"setting '{setting}': {message}")
        self.setting = setting


def scheme_of(address: str) -> str:
    """`http`, `https`, `s3`, another `scheme://`, or `` for a local path."""
    scheme, separator, _ = address.partition("://")
    return scheme.lower() if separator and scheme.isalnum() else ""


def redact_url(address: str) -> str:
    """The address with its userinfo and every query value and fragment replaced by ***.

    Query keys stay (so `?token=***` still says what was sent); a bare query item
    (`?abc123`) and a fragment are replaced whole. Local paths are returned unchanged.
    """
    if not scheme_of(address):
        return address
    parts = urlsplit(address)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{item.partition('=')[0]}={REDACTED}" if "=" in item else REDACTED
        for item in parts.query.split("&")
        if item
    )
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def scrub(text: str, address: str) -> str:
    """`text` (e.g. a library's error message) with `address`'s credentials replaced:
    the whole URL, its request target (`/x.csv?token=...`, what urllib3 quotes) and each
    secret of 4+ characters, raw and percent-decoded. Shorter values are left alone so
    `v=2` does not turn every 2 into ***; they are no credential."""
    if not scheme_of(address):
        return text
    parts = urlsplit(address)
    shown = urlsplit(redact_url(address))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    shown_target = shown.path + (f"?{shown.query}" if shown.query else "")
    text = text.replace(address, redact_url(address)).replace(target, shown_target)
    secrets = [item.partition("=")[2] or item for item in parts.query.split("&") if item]
    secrets += [parts.fragment, parts.netloc.rpartition("@")[0]]
    secrets += [parts.password or "", parts.username or ""]
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED).replace(unquote(secret), REDACTED)
    return text


def file_name(address: str) -> str:
    """The last segment of the address's path (what `file_patterns` are matched against):
    `https://h/x/marketing_spend.csv?token=t` -> `marketing_spend.csv`."""
    path = urlsplit(address).path if scheme_of(address) else address
    return posixpath.basename(unquote(path).rstrip("/"))


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: traffic that never leaves this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(address: str, setting: str, allow_insecure_http: bool) -> None:
    """Refuse `http://` to a host that is not loopback unless explicitly allowed."""
    if scheme_of(address) != "http" or allow_insecure_http:
        return
    host = urlsplit(address).hostname or ""
    if not is_loopback(host):
        raise LocationError(
            setting,
            f"{redact_url(address)} is plain http to {host!r}, which is not loopback; use "
            "https or set allow_insecure_http: true",
        )


def check_segments(address: str, setting: str) -> None:
    """Refuse `..` and empty path segments (one trailing slash on a prefix is fine)."""
    scheme = scheme_of(address)
    if scheme:
        parts = urlsplit(address)
        if not parts.netloc.rpartition("@")[2]:
            raise LocationError(setting, f"{redact_url(address)} has no host or bucket")
        path = unquote(parts.path)
    else:
        path = address
    path = path.removeprefix("/").removesuffix("/")
    segments = path.split("/") if path else []
    if ".." in segments:
        raise LocationError(setting, f"{redact_url(address)} has a '..' segment")
    if "" in segments:
        raise LocationError(setting, f"{redact_url(address)} has an empty path segment ('//')")


def check_address(address: str, setting: str, allow_insecure_http: bool) -> None:
    """Every check a configured address must pass before the tap touches it."""
    scheme = scheme_of(address)
    if scheme and scheme not in KNOWN_SCHEMES:
        raise LocationError(
            setting, f"{scheme}:// is not supported (a directory, s3:// or http(s)://)"
        )
    check_segments(address, setting)
    check_transport(address, setting, allow_insecure_http)
