"""Address matrix of the SSRF guard: every blocked range, numeric host forms, the allowlist."""

from __future__ import annotations

import ipaddress

import pytest

from or_magic.config import Settings
from or_magic.errors import ConfigError, ErrorCode, ToolError
from or_magic.safety.addresses import (
    BLOCKED_V4,
    BLOCKED_V6,
    Allowlist,
    is_blocked_ip,
    normalize_host,
)
from or_magic.safety.fetch import parse_target

# One address from every blocked IPv4 range (the list) and the range it must name.
BLOCKED_V4_CASES = [
    ("0.1.2.3", "0.0.0.0/8"),
    ("10.20.30.40", "10.0.0.0/8"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("100.127.255.254", "100.64.0.0/10"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("127.255.255.254", "127.0.0.0/8"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("172.16.0.1", "172.16.0.0/12"),
    ("172.31.255.255", "172.16.0.0/12"),
    ("192.0.0.8", "192.0.0.0/24"),
    ("192.0.2.1", "192.0.2.0/24"),
    ("192.88.99.1", "192.88.99.0/24"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("198.18.0.1", "198.18.0.0/15"),
    ("198.19.255.1", "198.18.0.0/15"),
    ("198.51.100.7", "198.51.100.0/24"),
    ("203.0.113.9", "203.0.113.0/24"),
    ("224.0.0.1", "224.0.0.0/4"),
    ("239.255.255.250", "224.0.0.0/4"),
    ("240.0.0.1", "240.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255"),
]

BLOCKED_V6_CASES = [
    ("::", "unspecified"),
    ("::1", "loopback ::1"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::ffff:0:10.0.0.1", "IPv4-translatable"),
    ("64:ff9b::10.0.0.1", "NAT64 64:ff9b::/96"),
    ("64:ff9b::127.0.0.1", "127.0.0.0/8"),
    ("64:ff9b:1::a00:1", "NAT64 local-use"),
    ("64:ff9b:1:abcd::a00:1", "NAT64 local-use"),
    ("2002:7f00:1::", "6to4 2002::/16"),
    ("2002:a9fe:a9fe::1", "169.254.0.0/16"),
    ("2001::1", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),  # public-looking Teredo: still blocked
    ("2001:db8::1", "2001:db8::/32"),
    ("2001:10::1", "ORCHID 2001:10::/28"),
    ("2001:20::1", "ORCHIDv2 2001:20::/28"),
    ("100::1", "100::/64"),
    ("fc00::1", "fc00::/7"),
    ("fd12:3456::1", "fc00::/7"),
    ("fe80::1", "fe80::/10"),
    ("febf::1", "fe80::/10"),
    ("fec0::1", "fec0::/10"),
    ("ff02::1", "ff00::/8"),
    ("3fff::1", "3fff::/20"),
    ("3fff:fff::1", "3fff::/20"),
    ("5f00::1", "5f00::/16"),
    ("2001:2::1", "2001:2::/48"),
    ("::1:2:3:4", "::/8"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700::1111",
    "2a00:1450:4001::200e",
    "2002:0808:0808::",  # 6to4 of a public address
    "::ffff:8.8.8.8",  # mapped public
    "64:ff9b::8.8.8.8",  # NAT64 of a public address
    "3fff:1000::1",  # just past 3fff::/20
]


@pytest.mark.parametrize(("ip", "range_"), BLOCKED_V4_CASES)
def test_every_blocked_v4_range(ip: str, range_: str) -> None:
    reason = is_blocked_ip(ip)
    assert reason is not None and range_ in reason


@pytest.mark.parametrize(("ip", "fragment"), BLOCKED_V6_CASES)
def test_every_blocked_v6_range(ip: str, fragment: str) -> None:
    reason = is_blocked_ip(ip)
    assert reason is not None and fragment in reason, reason


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_pass(ip: str) -> None:
    assert is_blocked_ip(ip) is None


def test_tables_cover_both_ends_of_each_network() -> None:
    for net, _ in BLOCKED_V4 + BLOCKED_V6:
        assert is_blocked_ip(net.network_address) is not None
        assert is_blocked_ip(net.broadcast_address) is not None


def test_teredo_reason_names_the_embedded_address() -> None:
    # client = 127.0.0.1 xor ffffffff -> 80ff:fffe
    reason = is_blocked_ip("2001:0:4136:e378:8000:63bf:80ff:fffe")
    assert reason is not None and "client 127.0.0.1" in reason


def test_zone_id_is_ignored_for_classification() -> None:
    assert "fe80::/10" in (is_blocked_ip(ipaddress.IPv6Address("fe80::1%eth0")) or "")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.0.0x0.01", "127.0.0.1"),  # mixed hex / decimal / octal
        ("0177.0x0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # one octal part
        ("0xa9fea9fe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("１２７.０.０.１", "127.0.0.1"),  # full-width digits fold under UTS-46
        ("[::1]", "::1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("Example.COM.", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("a_b.example", "a_b.example"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "",
        " ",
        "1.2.3.4.5",
        "256.0.0.1",
        "1.2.3.0x100",
        "09",
        "0x7g.1",
        "a..b",
        "-a.com",
        "a b",
        "[::1",
        "[zz]",
        "x/y",
        "a@b",
        "1.2.3.4294967296",
    ],
)
def test_normalize_host_rejects_junk(host: str) -> None:
    with pytest.raises(ToolError) as ei:
        normalize_host(host)
    assert ei.value.code is ErrorCode.INVALID_INPUT


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://2130706433/x", "127.0.0.1", 80),
        ("https://0x7f.1:8443/", "127.0.0.1", 8443),
        ("http://[::1]:8080/a?b=1#frag", "::1", 8080),
        ("http://[fe80::1%25eth0]/", "fe80::1", 80),
        ("HTTP://Example.com./p", "example.com", 80),
    ],
)
def test_parse_target_normalises_hosts(url: str, host: str, port: int) -> None:
    t = parse_target(url)
    assert (t.host, t.port) == (host, port)
    assert "#" not in t.path


def test_pinned_url_and_host_header() -> None:
    t = parse_target("https://media.example:8443/a/b.png?x=1")
    assert t.pinned_url("2606:4700::1111") == "https://[2606:4700::1111]:8443/a/b.png?x=1"
    assert t.pinned_url("93.184.216.34") == "https://93.184.216.34:8443/a/b.png?x=1"
    assert t.host_header == "media.example:8443"
    assert parse_target("http://media.example/").host_header == "media.example"
    assert parse_target("http://[::1]:81/").host_header == "[::1]:81"


# ---- allowlist ------------------------------------------------------------------------------


def test_allowlist_hosts_ips_cidrs() -> None:
    al = Allowlist.from_settings(
        Settings(
            url_allowlist=(
                "Media.Internal",
                "*.corp.example",
                "10.1.2.3",
                "192.168.0.0/16",
                "fd00::/8",
                "[::1]",
            )
        )
    )
    assert al.allows_host("media.internal")
    assert al.allows_host("cdn.corp.example") and not al.allows_host("corp.example.evil")
    assert al.allows_ip("10.1.2.3") and not al.allows_ip("10.1.2.4")
    assert al.allows_ip("192.168.7.7") and al.allows_ip("::ffff:192.168.7.7")
    assert al.allows_ip("fd00::5") and al.allows_ip("::1")
    assert not al.allows_ip("127.0.0.1")


def test_allowlist_numeric_forms_are_normalised() -> None:
    al = Allowlist.parse(["0x7f.1"])
    assert al.allows_ip("127.0.0.1")


def test_empty_allowlist_by_default() -> None:
    assert not Allowlist.from_settings(Settings())


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "1.2.3.4.5", "::1/129"])
def test_allowlist_rejects_bad_entries(entry: str) -> None:
    with pytest.raises(ConfigError) as ei:
        Allowlist.parse([entry])
    assert ei.value.variable == "OPENROUTER_URL_ALLOWLIST"
