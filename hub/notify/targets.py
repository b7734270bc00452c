"""Where a company's webhook may point: public addresses only, unless the operator allows
a network in `hub.toml` (`[notify] webhook_allow_networks = ["10.20.0.0/16"]`).

A company admin chooses the URL, the hub makes the request: without this check an admin
could make the hub POST to 127.0.0.1, to the database's host on the private network, or to
a cloud's metadata service at 169.254.169.254. So every address the host name resolves to
must be global: not loopback, private, link-local, multicast, reserved, unspecified,
shared (100.64.0.0/10), nor any of those behind an IPv6 wrapper (IPv4-mapped ::ffff:a.b.c.d,
6to4, Teredo). One forbidden address refuses the URL (a name with a public and a private
A record would otherwise reach the private one half the time).

The check runs when the admin sets the URL and again before each delivery, since a name
may resolve differently later; the delivery then connects to an address this check
returned, never resolving the name a second time (DNS rebinding between check and
connect). Stdlib only: the HTTP client is the courier's business (`couriers.py`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub.errors import InvalidRequest, WebhookTargetRefused, WebhookTargetUnresolvable

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]  # host, port -> addresses (the text of each)

DEFAULT_PORTS = {"http": 80, "https": 443}


def resolve_tcp(host: str, port: int) -> tuple[str, ...]:
    """Every address `host` resolves to for a TCP connection, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL: connect to one of `addresses`, and name `host` in Host and TLS SNI."""

    url: str
    scheme: str  # http or https
    host: str
    port: int
    path: str  # with the query, as sent in the request line
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


class WebhookTargets:
    def __init__(self, allowed_networks: Sequence[IpNetwork] = (), resolve: Resolver = resolve_tcp) -> None:
        self.allowed_networks = tuple(allowed_networks)
        self.resolve = resolve

    def check(self, url: str) -> WebhookTarget:
        """The URL with the addresses its host resolves to now; raises `WebhookTargetRefused`
        if any of them is not allowed, `WebhookTargetUnresolvable` if there is none."""
        parts = urlsplit(url)
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            port = None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
            raise InvalidRequest(f"{url!r} is not an http(s) URL")
        host = parts.hostname
        try:
            addresses = tuple(self.resolve(host, port))
        except (OSError, UnicodeError) as error:
            raise WebhookTargetUnresolvable(f"the webhook's host {host} does not resolve: {error}") from None
        if not addresses:
            raise WebhookTargetUnresolvable(f"the webhook's host {host} does not resolve to any address")
        for address in addresses:
            if (kind := self.refusal(ipaddress.ip_address(address.split("%", 1)[0]))) is not None:
                shown = host if host == address else f"{host} ({address})"
                raise WebhookTargetRefused(
                    f"the webhook's host {shown} is a {kind} address; webhooks go to public addresses only "
                    f"(the hub's operator may allow a network in hub.toml [notify] webhook_allow_networks)"
                )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return WebhookTarget(url, parts.scheme, host, port, path, addresses)

    def refusal(self, address: IpAddress) -> str | None:
        """None when a webhook may go to `address`; else what kind of address it is."""
        faces = _faces(address)
        if any(
            face in network for face in faces for network in self.allowed_networks if face.version == network.version
        ):
            return None
        for face in faces:
            if kind := _non_global_kind(face):
                return kind
        return None


def _faces(address: IpAddress) -> list[IpAddress]:
    """What to judge: an IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 host it names;
    a 6to4 or Teredo address is judged as itself and as the IPv4 address it carries."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    carried = [address.sixtofour] if address.sixtofour is not None else []
    carried += list(address.teredo or ())
    return [*carried, address]


def _non_global_kind(address: IpAddress) -> str | None:
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return kind
    return None if address.is_global else "non-global"
