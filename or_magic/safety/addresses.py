"""Host normalisation and IP classification for the SSRF guard.

Python's URL parser leaves hosts such as ``2130706433``, ``0177.0.0.1`` or ``0x7f.1`` alone, while
the C resolver (``inet_aton``) happily connects to them, so every host is normalised here *before*
it is classified or resolved. Classification uses ``ipaddress`` networks, never string prefixes,
and covers the ranges tool-surface.md §5.1 lists, including the ones the Node server still misses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError, ErrorCode, ToolError

if TYPE_CHECKING:
    from ..config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_N4 = ipaddress.IPv4Network
_N6 = ipaddress.IPv6Network

# (network, reason) — checked in order, first match wins. Narrow ranges come before wide ones so
# the reason names the most specific range (255.255.255.255 before 240/4).
BLOCKED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_N4("0.0.0.0/8"), "this-network 0.0.0.0/8"),
    (_N4("10.0.0.0/8"), "private 10.0.0.0/8"),
    (_N4("100.64.0.0/10"), "CGNAT shared 100.64.0.0/10"),
    (_N4("127.0.0.0/8"), "loopback 127.0.0.0/8"),
    (_N4("169.254.0.0/16"), "link-local / cloud metadata 169.254.0.0/16"),
    (_N4("172.16.0.0/12"), "private 172.16.0.0/12"),
    (_N4("192.0.0.0/24"), "IETF protocol assignments 192.0.0.0/24"),
    (_N4("192.0.2.0/24"), "documentation TEST-NET-1 192.0.2.0/24"),
    (_N4("192.88.99.0/24"), "6to4 relay anycast 192.88.99.0/24"),
    (_N4("192.168.0.0/16"), "private 192.168.0.0/16"),
    (_N4("198.18.0.0/15"), "benchmarking 198.18.0.0/15"),
    (_N4("198.51.100.0/24"), "documentation TEST-NET-2 198.51.100.0/24"),
    (_N4("203.0.113.0/24"), "documentation TEST-NET-3 203.0.113.0/24"),
    (_N4("224.0.0.0/4"), "multicast 224.0.0.0/4"),
    (_N4("255.255.255.255/32"), "broadcast 255.255.255.255"),
    (_N4("240.0.0.0/4"), "reserved 240.0.0.0/4"),
)

# Blocked outright, whatever follows the prefix.
BLOCKED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_N6("::/128"), "unspecified ::"),
    (_N6("::1/128"), "loopback ::1"),
    (_N6("100::/64"), "discard-only 100::/64"),
    (_N6("2001:db8::/32"), "documentation 2001:db8::/32"),
    (_N6("3fff::/20"), "documentation 3fff::/20"),
    (_N6("2001:10::/28"), "ORCHID 2001:10::/28"),
    (_N6("2001:20::/28"), "ORCHIDv2 2001:20::/28"),
    (_N6("2001:2::/48"), "benchmarking 2001:2::/48"),
    (_N6("5f00::/16"), "SRv6 SIDs 5f00::/16"),
    (_N6("fc00::/7"), "unique-local fc00::/7"),
    (_N6("fe80::/10"), "link-local fe80::/10"),
    (_N6("fec0::/10"), "site-local fec0::/10"),
    (_N6("ff00::/8"), "multicast ff00::/8"),
)

TEREDO = _N6("2001::/32")
SIXTOFOUR = _N6("2002::/16")
# Prefixes whose last 32 bits are an IPv4 address: blocked exactly when that address is.
EMBEDDED_V4_TAIL: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_N6("::ffff:0:0/96"), "IPv4-mapped ::ffff:0:0/96"),
    (_N6("::ffff:0:0:0/96"), "IPv4-translatable ::ffff:0:0:0/96"),
    (_N6("64:ff9b::/96"), "NAT64 64:ff9b::/96"),
    (_N6("64:ff9b:1::/48"), "NAT64 local-use 64:ff9b:1::/48"),
    (_N6("::/96"), "IPv4-compatible ::/96"),
)
RESERVED_V6 = _N6("::/8")


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for net, reason in BLOCKED_V4:
        if ip in net:
            return reason
    if not ip.is_global:  # belt and braces: anything else ipaddress calls non-global
        return f"non-global {ip}"
    return None


def is_blocked_ip(ip: str | IPAddress) -> str | None:
    """Why ``ip`` must not be fetched (the range's name), or ``None`` when it is public.

    Addresses that embed an IPv4 address (mapped, compatible, translatable, 6to4, NAT64) are judged
    by that address; Teredo (2001::/32) is blocked as a whole, naming its embedded client/server
    when one of those is itself blocked.
    """
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv4Address):
        return _v4_reason(addr)
    if addr.scope_id:
        addr = ipaddress.IPv6Address(addr.compressed.split("%", 1)[0])
    for net, reason in BLOCKED_V6:
        if addr in net:
            return reason
    if addr in TEREDO:
        server, client = addr.teredo  # type: ignore[misc]
        for role, v4 in (("client", client), ("server", server)):
            inner = _v4_reason(v4)
            if inner:
                return f"Teredo 2001::/32 (embedded {role} {v4}: {inner})"
        return "Teredo 2001::/32"
    if addr in SIXTOFOUR:
        v4 = addr.sixtofour
        assert v4 is not None
        inner = _v4_reason(v4)
        return f"6to4 2002::/16 embedding {v4}: {inner}" if inner else None
    for net, name in EMBEDDED_V4_TAIL:
        if addr in net:
            v4 = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
            inner = _v4_reason(v4)
            return f"{name} embedding {v4}: {inner}" if inner else None
    if addr in RESERVED_V6:
        return "reserved ::/8"
    if not addr.is_global:
        return f"non-global {addr.compressed}"
    return None


# ---- host normalisation ---------------------------------------------------------------------

_HEX_RE = re.compile(r"0[xX][0-9a-fA-F]*")
_DEC_RE = re.compile(r"[0-9]+")
_LABEL_RE = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def _invalid_host(host: str, why: str) -> ToolError:
    shown = host if len(host) <= 80 else host[:77] + "..."
    return ToolError(
        ErrorCode.INVALID_INPUT,
        f"invalid host {shown!r}: {why}",
        details={"host": shown},
    )


def _parse_v4_part(part: str) -> int | None:
    """One WHATWG IPv4 part: ``0x``-hex, ``0``-octal or decimal; ``None`` if not numeric."""
    if _HEX_RE.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _DEC_RE.fullmatch(part):
        if len(part) > 1 and part.startswith("0"):
            if any(c in "89" for c in part):
                return None
            return int(part, 8)
        return int(part)
    return None


def _looks_numeric(part: str) -> bool:
    return bool(_DEC_RE.fullmatch(part) or _HEX_RE.fullmatch(part))


def _parse_numeric_v4(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser: 1 to 4 parts, the last filling the remaining bytes.

    Returns ``None`` when the host does not end in a number (so it is a name); raises when it
    ends in a number but is not a valid address (``1.2.3.4.5``, ``256.1.1.1``, ``09``): such a
    host is junk, and ``getaddrinfo`` must never get a chance to interpret it.
    """
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or not _looks_numeric(parts[-1]):
        return None
    if len(parts) > 4:
        raise _invalid_host(host, "more than four numeric parts")
    nums: list[int] = []
    for p in parts:
        n = _parse_v4_part(p)
        if n is None:
            raise _invalid_host(host, f"{p!r} is not a number")
        nums.append(n)
    for n in nums[:-1]:
        if n > 255:
            raise _invalid_host(host, "an IPv4 part is over 255")
    last_bytes = 5 - len(nums)
    if nums[-1] >= 256**last_bytes:
        raise _invalid_host(host, "IPv4 address out of range")
    value = nums[-1]
    for i, n in enumerate(nums[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _idna(host: str) -> str:
    """Lower-case ASCII form of a host name (UTS-46 mapping, so full-width digits fold too)."""
    if host.isascii():
        return host.lower()
    try:
        import idna

        return idna.encode(host, uts46=True, transitional=False).decode("ascii").lower()
    except ImportError:  # pragma: no cover - idna ships with httpx
        try:
            return host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise _invalid_host(host, "not a valid internationalised name") from exc
    except Exception as exc:  # idna.IDNAError and friends
        raise _invalid_host(host, "not a valid internationalised name") from exc


def normalize_host(host: str) -> str:
    """Canonical form of a URL host: a dotted IPv4, a compressed IPv6 (no brackets, no zone id),
    or a lower-case ASCII name without the trailing dot. Junk raises ``INVALID_INPUT``.
    """
    if not isinstance(host, str) or not host.strip():
        raise _invalid_host(str(host), "empty host")
    h = host.strip()
    if h.startswith("[") or ":" in h:
        inner = h[1:-1] if h.startswith("[") and h.endswith("]") else h
        if h.startswith("[") != h.endswith("]"):
            raise _invalid_host(host, "unbalanced brackets")
        inner = inner.split("%", 1)[0]  # zone id (%eth0 or %25eth0): meaningless off-link
        try:
            return ipaddress.IPv6Address(inner).compressed
        except ValueError as exc:
            raise _invalid_host(host, "not a valid IPv6 address") from exc
    if any(c in h for c in "/\\@?#%[] \t\r\n\x00"):
        raise _invalid_host(host, "forbidden character")
    ascii_host = _idna(h)
    v4 = _parse_numeric_v4(ascii_host)
    if v4 is not None:
        return str(v4)
    name = ascii_host[:-1] if ascii_host.endswith(".") else ascii_host
    if not name or len(name) > 253:
        raise _invalid_host(host, "bad length")
    for label in name.split("."):
        if not _LABEL_RE.fullmatch(label):
            raise _invalid_host(host, f"bad label {label!r}")
    return name


def ip_or_none(host: str) -> IPAddress | None:
    """``host`` (already normalised) as an address, or ``None`` for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_localhost_name(host: str) -> bool:
    """``localhost`` and ``*.localhost`` always mean loopback (RFC 6761), whatever DNS says."""
    return host == "localhost" or host.endswith(".localhost")


# ---- allowlist -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowlist:
    """Hosts, IPs and CIDRs that URL fetches may reach although the SSRF guard would block them.

    A host entry allows that exact name (``.example.com`` / ``*.example.com`` also allow its
    subdomains) whatever it resolves to; an IP or CIDR entry allows those addresses under any name.
    """

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(
        cls, entries: Iterable[str], *, variable: str = "OPENROUTER_URL_ALLOWLIST"
    ) -> Allowlist:
        hosts: set[str] = set()
        suffixes: list[str] = []
        nets: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                if "/" in entry:
                    nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                    continue
                if entry.startswith(("*.", ".")):
                    suffixes.append("." + normalize_host(entry.lstrip("*.")))
                    continue
                norm = normalize_host(entry)
            except (ValueError, ToolError):
                raise ConfigError(
                    variable, f"{entry!r} is not a host, IP address or CIDR"
                ) from None
            ip = ip_or_none(norm)
            if ip is not None:
                nets.append(ipaddress.ip_network(ip))
            else:
                hosts.add(norm)
        return cls(frozenset(hosts), tuple(suffixes), tuple(nets))

    @classmethod
    def from_settings(cls, settings: Settings) -> Allowlist:
        return cls.parse(getattr(settings, "url_allowlist", ()) or ())

    def __bool__(self) -> bool:
        return bool(self.hosts or self.suffixes or self.networks)

    def allows_host(self, host: str) -> bool:
        """``host`` is a normalised name (or address) the user allowed by name."""
        if host in self.hosts:
            return True
        return any(host.endswith(s) for s in self.suffixes)

    def allows_ip(self, ip: str | IPAddress) -> bool:
        addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        candidates: list[IPAddress] = [addr]
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)
