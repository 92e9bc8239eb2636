"""Where deliveries may go: a guard against server-side request forgery.

An endpoint's URL must be http or https, and every address its host resolves to must be a
public one: loopback, link-local, private, unique-local, multicast, unspecified, reserved
and other non-global addresses are refused (an IPv4 address mapped into IPv6 is judged as
the IPv4 address it carries). The check runs when the endpoint is created or changed and
again at every delivery, and the delivery connects to the very address that was checked
(``Pinned``): the URL is rewritten to the IP, the ``Host`` header and the TLS server name
(SNI, and so the certificate's check) keep the hostname. A DNS answer that changes between
the check and the connection (rebinding) therefore cannot steer a delivery inward.

``OMS_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule (development and tests, where the
receivers listen on 127.0.0.1); the scheme rule stays. ``OMS_WEBHOOK_LOOPBACK_ONLY=true``
does the opposite, for test and benchmark systems that must never call out: only loopback
addresses (and ``localhost``) are allowed, and no other name is even resolved.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_S = 5.0


class AddressNotAllowed(ValueError):
    """The URL may not be delivered to; the message says why (no address in it)."""


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be delivered to, or None if it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not global", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


@dataclass(frozen=True)
class Pinned:
    """A URL resolved and checked: what to connect to, and what to tell the server."""

    url: str  # the URL with the checked IP in place of the host
    host_header: str
    sni_hostname: str | None  # https only
    ip: str


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; AddressNotAllowed otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise AddressNotAllowed("the URL is malformed") from exc
    if parts.scheme not in ("http", "https"):
        raise AddressNotAllowed("only http and https URLs are allowed")
    if not parts.hostname:
        raise AddressNotAllowed("the URL has no host")
    if parts.username or parts.password:
        raise AddressNotAllowed("the URL may not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise AddressNotAllowed("the URL's port is not valid") from exc
    return parts.scheme, parts.hostname, port


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise AddressNotAllowed("the URL's host does not resolve") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise AddressNotAllowed("the URL's host does not resolve")
    return found


async def check_url(url: str, allow_private: bool, loopback_only: bool = False) -> Pinned:
    """Resolve the URL's host and check every address it has; the URL pinned to the first.
    Every address is checked, not only the one used: a host that answers with one public
    and one private address is refused."""
    scheme, host, port = split_url(url)
    if loopback_only and host != "localhost" and not _is_ip(host):
        raise AddressNotAllowed("address not allowed (only loopback on this system)")
    addresses = await resolve(host, port)
    if loopback_only:
        for address in addresses:
            if not _loopback(address):
                raise AddressNotAllowed("address not allowed (only loopback on this system)")
    elif not allow_private:
        for address in addresses:
            why = refusal(address)
            if why is not None:
                raise AddressNotAllowed(f"address not allowed ({why})")
    chosen = addresses[0]
    parts = urlsplit(url)
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Pinned(pinned, host_header, host if scheme == "https" else None, str(chosen))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
