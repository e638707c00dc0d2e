"""Where webhooks may go: URL checks at subscription time, address checks at send time.

A subscription's URL is checked without resolving it (API.md: the host need not
resolve yet). A host written as an address is read the way the platform's
resolver would read it, so ``127.1``, ``0x7f.1``, ``2130706433`` and
``[::ffff:127.0.0.1]`` are all loopback; an allowed IPv4 address must still be
written as four decimal numbers, the only IPv4 form aiohttp connects to.

At send time ``GuardedResolver`` checks every address a name resolves to, and
the connection is made to those checked addresses only, so a name cannot be
re-pointed between check and connect.

``allow_private`` (development and tests) lets loopback, private and other
non-public addresses through. Cloud metadata addresses are refused even then:
no merchant endpoint lives there.
"""

from __future__ import annotations

import re
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = IPv4Address | IPv6Address

MAX_URL_LENGTH = 2048
METADATA = frozenset(
    {
        IPv4Address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        IPv4Address("169.254.170.2"),  # AWS ECS task metadata
        IPv4Address("168.63.129.16"),  # Azure platform (a public address)
        IPv6Address("fd00:ec2::254"),  # AWS over IPv6
    }
)
SHARED = IPv4Network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
NAT64 = IPv6Network("64:ff9b::/96")  # the last 32 bits are an IPv4 address
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")  # after yarl's lower-casing and IDNA;
# and, as DNS has it, at most 253 characters in all and 63 in any one label
IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


class UnsafeTarget(ValueError):
    """A webhook URL, or an address its host resolves to, that deliveries may not use."""


class RefusedAddress(OSError):
    """Raised by ``GuardedResolver``; aiohttp reports it as a failed DNS lookup."""


def check_target(url: str, *, require_https: bool, allow_private: bool) -> str:
    """``url`` as yarl normalises it, or ``UnsafeTarget`` saying why it may not be used."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"refused target URL: longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = URL(url)
        port = parsed.port
        parsed.host  # noqa: B018  decoding the IDNA form can fail (xn-- labels), as ValueError
    except ValueError as exc:
        raise UnsafeTarget(f"refused target URL: {exc}") from None
    allowed = ("https",) if require_https else ("http", "https")
    if parsed.scheme not in allowed:
        raise UnsafeTarget(f"refused target URL: the scheme must be {' or '.join(allowed)}")
    if not parsed.host:
        raise UnsafeTarget("refused target URL: it has no host")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise UnsafeTarget("refused target URL: credentials (user:password@) are not allowed")
    if port is None or not 0 < port < 65536:
        raise UnsafeTarget(f"refused target URL: port {port} is out of range")
    _check_host(parsed, allow_private=allow_private)
    return str(parsed)


def check_address(address: IPAddress, *, allow_private: bool, shown_as: str = "") -> None:
    """Refuse ``address`` when deliveries may not reach it; ``shown_as`` names it in the error."""
    reason = refusal(address, allow_private=allow_private)
    if reason is None:
        return
    written = f"[{address}]" if address.version == 6 else str(address)
    shown = written if shown_as in ("", str(address)) else f"{shown_as} ({written})"
    raise UnsafeTarget(f"refused target {shown}: {reason}")


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why deliveries may not reach ``address``, or None when they may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded, allow_private=allow_private)
        return None if reason is None else f"{reason} (embedded {embedded})"
    if _unscoped(address) in METADATA:
        return "cloud metadata address"
    return None if allow_private else _kind(address)


def host_address(host: str) -> IPAddress | None:
    """The address ``host`` names when it is written as one, as the platform resolver reads it.

    IPv4 follows ``inet_aton``: one to four parts, each decimal, octal (leading
    ``0``) or hexadecimal (``0x``), the last filling the remaining bytes. A
    trailing dot is ignored, which refuses more than the resolver would, never less.
    """
    if ":" in host:
        try:
            return IPv6Address(host.strip("[]"))
        except ValueError:
            return None
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(IPV4_PART.fullmatch(part) for part in parts):
        return None
    values = [_ipv4_part(part) for part in parts]
    *leading, last = values
    if any(value > 0xFF for value in leading) or last >= 1 << 8 * (5 - len(parts)):
        return None
    number = last
    for index, value in enumerate(leading):
        number |= value << 8 * (3 - index)
    return IPv4Address(number)


def _check_host(url: URL, *, allow_private: bool) -> None:
    """Refuse a URL's host, unresolved, if it is a disallowed address or a local name."""
    host = url.raw_host or ""  # lower-cased; IDNA-encoded; an IPv6 zone is %-escaped
    address = host_address(url.host or "")
    if address is not None:
        check_address(address, allow_private=allow_private, shown_as=url.host or "")
        if address.version == 4 and host != str(address):  # aiohttp refuses to connect to it
            raise UnsafeTarget(f"refused target {host}: write the address as {address}")
        return
    name = host.rstrip(".")
    labels = name.split(".")
    if not HOST_NAME.fullmatch(name) or len(name) > 253 or max(map(len, labels)) > 63:
        raise UnsafeTarget(f"refused target {host}: not a valid host name")
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        raise UnsafeTarget(f"refused target {host}: local host name")


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and refuses a name if ANY of its addresses is disallowed."""

    def __init__(self, inner: AbstractResolver, *, allow_private: bool) -> None:
        self._inner = inner
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                address = ip_address(result["host"])
                check_address(address, allow_private=self._allow_private, shown_as=host)
            except ValueError as exc:  # UnsafeTarget, or not an address at all
                raise RefusedAddress(str(exc)) from exc
        return results

    async def close(self) -> None:
        await self._inner.close()


def _ipv4_part(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:], 16)
    return int(part, 8 if part.startswith("0") else 10)


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if isinstance(address, IPv4Address):
        return None
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _unscoped(address: IPAddress) -> IPAddress:
    """``address`` without an IPv6 zone (``%eth0``), which takes part in equality."""
    return IPv6Address(int(address)) if isinstance(address, IPv6Address) else address


def _kind(address: IPAddress) -> str | None:
    """The first non-public kind ``address`` belongs to, or None for a public address."""
    kinds = [
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback address"),
        (address.is_link_local, "link-local address"),
        (address.is_multicast, "multicast address"),
        (
            isinstance(address, IPv4Address) and address in SHARED,
            "shared (carrier-grade NAT) address",
        ),
        (address.is_reserved, "reserved address"),
        (address.is_private, "private address"),
        (not address.is_global, "non-public address"),
    ]
    return next((name for matches, name in kinds if matches), None)
