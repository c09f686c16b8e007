"""Who may reach the HTTP server: the bind rule and the ``Host`` names (DNS-rebinding protection).

* A bind that is not loopback (``0.0.0.0``, ``::``, a LAN address, a host name) exposes the tools
  to the network, so it requires the bearer token; serving it without auth needs the explicit
  ``--allow-remote-without-auth`` flag, else the start is refused (exit 2) before a port is bound.
* ``Host`` is checked on every bind, wildcard included. A browser page on a rebound DNS name sends
  that name as ``Host``, so only the names the operator meant are accepted: the loopback names,
  the bind address (when it is not a wildcard, which names no host) and ``http.allowedHosts``.
  Anything else gets the SDK's 421.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from mcp.server.transport_security import TransportSecuritySettings

from skillz_engine.errors import UsageError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
REMOTE_NO_AUTH_FLAG = "--allow-remote-without-auth"


def url_host(host: str) -> str:
    """``host`` as it appears in a url (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, *, auth: bool, allow_remote_without_auth: bool = False) -> None:
    """Refuse an unauthenticated non-loopback bind unless explicitly allowed."""
    if auth or is_loopback(host) or allow_remote_without_auth:
        return
    raise UsageError(
        f"refusing to serve {host or '*'} without authentication: anyone on the network could call "
        f"every tool. Drop --no-auth (and http.auth: false), bind 127.0.0.1, or pass "
        f"{REMOTE_NO_AUTH_FLAG} if this network is trusted"
    )


def allowed_hosts(host: str, configured: Sequence[str] = ()) -> list[str]:
    """The ``Host`` values accepted: loopback, the bind address, ``http.allowedHosts``; each name
    also with any port (``name:*``) unless it gives one."""
    names = [*LOOPBACK_HOSTS, *([] if host in WILDCARD_HOSTS else [url_host(host)]), *configured]
    out: list[str] = []
    for name in names:
        out.append(name)
        if not name.endswith(":*") and not _has_port(name):
            out.append(f"{name}:*")
    return list(dict.fromkeys(out))


def _has_port(name: str) -> bool:
    tail = name.rsplit("]", 1)[-1] if name.startswith("[") else name
    return ":" in tail


def security_settings(
    host: str, origins: Sequence[str], configured_hosts: Sequence[str] = ()
) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection, on for every bind (see the module docstring)."""
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts(host, configured_hosts),
        allowed_origins=list(origins),
    )
