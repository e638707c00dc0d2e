"""Webhook targets checked at subscription time (no DNS), and the retry schedule."""

from __future__ import annotations

import random
import re
import socket
import sys

import pytest

from infrastructure.webhooks import DEFAULT_ATTEMPTS, UnsafeTarget, check_target, retry_delay
from infrastructure.webhooks.targets import host_address


def check(url: str, *, require_https: bool = False, allow_private: bool = False) -> str:
    return check_target(url, require_https=require_https, allow_private=allow_private)


# (url, what the refusal says): each written the way an attacker might try it.
REFUSED_ADDRESSES = [
    ("http://127.0.0.1/hook", "refused target 127.0.0.1: loopback address"),
    ("http://127.9.9.9/", "loopback address"),
    ("http://127.1/", "127.1 (127.0.0.1): loopback address"),
    ("http://0x7f.1/", "0x7f.1 (127.0.0.1): loopback address"),
    ("http://0X7F.0.0.1/", "(127.0.0.1): loopback address"),
    ("http://2130706433/", "2130706433 (127.0.0.1): loopback address"),
    ("http://0x7f000001/", "(127.0.0.1): loopback address"),
    ("http://017700000001/", "(127.0.0.1): loopback address"),
    ("http://0177.0.0.01/", "(127.0.0.1): loopback address"),
    ("http://127.0.0.1./", "loopback address"),
    ("http://[::1]/", "refused target [::1]: loopback address"),
    ("http://[::ffff:127.0.0.1]/", "loopback address (embedded 127.0.0.1)"),
    ("http://[::ffff:a00:1]/", "private address (embedded 10.0.0.1)"),
    ("http://[2002:7f00:1::]/", "loopback address (embedded 127.0.0.1)"),
    ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata address (embedded 169.254.169.254)"),
    ("http://0.0.0.0/", "unspecified address"),
    ("http://0/", "0 (0.0.0.0): unspecified address"),
    ("http://[::]/", "refused target [::]: unspecified address"),
    ("http://10.1.2.3/", "private address"),
    ("http://172.16.0.1/", "private address"),
    ("http://192.168.1.10:8080/", "private address"),
    ("http://[fc00::1]/", "private address"),
    ("http://[fd12:3456::1]/", "private address"),
    ("http://169.254.1.1/", "link-local address"),
    ("http://[fe80::1]/", "link-local address"),
    ("http://[fe80::1%25eth0]/", "link-local address"),
    ("http://100.64.0.1/", "shared (carrier-grade NAT) address"),
    ("http://100.127.255.254/", "shared (carrier-grade NAT) address"),
    ("http://224.0.0.1/", "multicast address"),
    ("http://[ff02::1]/", "multicast address"),
    ("http://240.0.0.1/", "reserved address"),
    ("http://255.255.255.255/", "reserved address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254: cloud metadata address"),
    ("http://0xa9fea9fe/", "(169.254.169.254): cloud metadata address"),
    ("http://[fd00:ec2::254]/", "[fd00:ec2::254]: cloud metadata address"),
    ("http://168.63.129.16/", "cloud metadata address"),
    ("http://localhost/", "refused target localhost: local host name"),
    ("http://LOCALHOST.:8000/", "refused target localhost.: local host name"),
    ("http://api.localhost/", "local host name"),
]

REFUSED_FORMS = [
    ("ftp://example.com/hook", "the scheme must be http or https"),
    ("file:///etc/passwd", "the scheme must be http or https"),
    ("javascript:alert(1)", "the scheme must be http or https"),
    ("//example.com/hook", "the scheme must be http or https"),
    ("example.com/hook", "the scheme must be http or https"),
    ("http:///hook", "it has no host"),
    ("http://user:secret@example.com/", "credentials (user:password@) are not allowed"),
    ("http://user@example.com/", "credentials (user:password@) are not allowed"),
    ("http://:secret@example.com/", "credentials (user:password@) are not allowed"),
    ("http://example.com:0/", "port 0 is out of range"),
    ("http://example.com:65536/", "refused target URL: Port out of range"),
    ("http://exa mple.com/", "not a valid host name"),
    ("http://xn--/", "decoding with 'idna' codec failed"),
    ("https://xn--a.example/", "decoding with 'idna' codec failed"),
    ("http://a.xn--zz/", "decoding with 'idna' codec failed"),
    ("https://" + "a" * 64 + ".example/", "not a valid host name"),  # a label over 63
    ("https://" + ("a" * 60 + ".") * 5 + "example/", "not a valid host name"),  # over 253
    ("http://example.com/" + "a" * 2030, "longer than 2048 characters"),
]


@pytest.mark.parametrize(("url", "says"), REFUSED_ADDRESSES + REFUSED_FORMS)
def test_refuses(url: str, says: str) -> None:
    with pytest.raises(UnsafeTarget, match=r"^refused target") as refused:
        check(url)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://example.com/hooks/payflow", "https://example.com/hooks/payflow"),
        ("HTTPS://Merchant.Example.COM:8443/x?y=1", "https://merchant.example.com:8443/x?y=1"),
        ("http://example.com/hook", "http://example.com/hook"),
        ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
        ("https://1.1.1.1:443/", "https://1.1.1.1/"),
        ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/"),
        ("https://münchen.example/", "https://xn--mnchen-3ya.example/"),
        ("https://localhost.example.com/", "https://localhost.example.com/"),
        ("https://my_host.example.com/", "https://my_host.example.com/"),
        # Names are not resolved here: where they point is checked at every delivery.
        ("https://127.0.0.1.nip.io/", "https://127.0.0.1.nip.io/"),
        ("https://does-not-resolve.invalid/", "https://does-not-resolve.invalid/"),
        ("https://example.com/" + "a" * 2028, "https://example.com/" + "a" * 2028),
    ],
)
def test_accepts_public_targets(url: str, normalised: str) -> None:
    assert check(url) == normalised


def test_https_can_be_required() -> None:
    with pytest.raises(UnsafeTarget, match=r"the scheme must be https$"):
        check("http://example.com/hook", require_https=True)
    assert check("https://example.com/hook", require_https=True) == "https://example.com/hook"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/",
        "http://10.0.0.5/",
        "http://100.64.0.1/",
        "http://localhost:3000/",
        "http://api.localhost/",
    ],
)
def test_allow_private_lets_local_targets_through(url: str) -> None:
    assert check(url, allow_private=True)
    with pytest.raises(UnsafeTarget):
        check(url)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://[::ffff:a9fe:a9fe]/"]
)
def test_metadata_addresses_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="cloud metadata address"):
        check(url, allow_private=True)


@pytest.mark.parametrize(
    ("url", "written"),
    [
        ("https://134744072/", "134744072: write the address as 8.8.8.8"),
        ("https://0x8.8.8.8/", "0x8.8.8.8: write the address as 8.8.8.8"),
        ("https://8.8.8.8./", "8.8.8.8.: write the address as 8.8.8.8"),
        ("http://127.1/", "127.1: write the address as 127.0.0.1"),
    ],
)
def test_allowed_ipv4_addresses_must_be_written_as_dotted_quads(url: str, written: str) -> None:
    with pytest.raises(UnsafeTarget, match=re.escape(f"refused target {written}")):
        check(url, allow_private=True)


def test_url_form_is_checked_even_when_private_is_allowed() -> None:
    with pytest.raises(UnsafeTarget, match="credentials"):
        check("http://user:pw@127.0.0.1/", allow_private=True)


NUMERIC_HOSTS = [
    "127.1", "0x7f.1", "0X7F.1", "2130706433", "017700000001", "0177.0.0.1", "127.0.0.01",
    "0x7f000001", "0", "4294967295", "4294967296", "1.16777215", "1.16777216", "1.2.65535",
    "1.2.65536", "256.1", "08", "0x", "0x.1", "1..2", "00x1", "0x0x1", "1.2.3.4.5", "0xcafe",
    "cafe", "example.com", "1.2.3.4",
]  # fmt: skip


@pytest.mark.skipif(sys.platform != "linux", reason="compares with glibc's inet_aton")
@pytest.mark.parametrize("host", NUMERIC_HOSTS)
def test_reads_numeric_hosts_as_the_platform_resolver_does(host: str) -> None:
    try:
        platform: str | None = socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        platform = None
    address = host_address(host)
    assert (None if address is None else str(address)) == platform


def test_retry_delay_stays_within_zero_and_the_exponential_ceiling() -> None:
    rng = random.Random(7)
    for attempt in range(1, 40):
        ceiling = min(3600.0, 2.0 ** (attempt - 1))
        delays = [retry_delay(attempt, rng=rng) for _ in range(200)]
        assert all(0.0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # jitter spans the window, not a corner of it


class Midpoint(random.Random):
    """Always draws the middle of the range, so the delay is half its ceiling."""

    def random(self) -> float:
        return 0.5


def test_retry_delay_doubles_with_each_attempt_until_the_cap() -> None:
    delays = [retry_delay(attempt, base=2.0, cap=60.0, rng=Midpoint()) for attempt in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_retry_delay_is_deterministic_with_a_seeded_rng() -> None:
    first = [retry_delay(n, rng=random.Random(42)) for n in range(1, DEFAULT_ATTEMPTS)]
    again = [retry_delay(n, rng=random.Random(42)) for n in range(1, DEFAULT_ATTEMPTS)]
    assert first == again
    assert first != [retry_delay(n, rng=random.Random(43)) for n in range(1, DEFAULT_ATTEMPTS)]


def test_retry_delay_grows_on_average() -> None:
    rng = random.Random(1)
    means = [sum(retry_delay(n, rng=rng) for _ in range(2000)) / 2000 for n in range(1, 6)]
    assert means == sorted(means)
    assert means[-1] > 4 * means[0]


def test_retry_delay_of_a_huge_attempt_number_is_capped() -> None:
    assert 0.0 <= retry_delay(100_000, cap=900.0, rng=random.Random(3)) <= 900.0


def test_retry_delay_counts_attempts_from_one() -> None:
    with pytest.raises(ValueError, match="attempt counts from 1"):
        retry_delay(0)


def test_five_attempts_by_default() -> None:
    assert DEFAULT_ATTEMPTS == 5
