"""The HTTP client against a real local server: conditional GET, redirects, caps and the address policy."""

from __future__ import annotations

import pytest
from conftest import fetch

from monitor.errors import (
    BlockedAddress,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitor.fetch import Limits, is_public


def test_conditional_get(site):
    url = site.put("/feed", "<rss/>", "application/rss+xml")
    first = fetch(url, trusted=True)
    assert first.status == 200 and first.body == b"<rss/>" and first.etag
    second = fetch(url, trusted=True, etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    assert site.requests[-1].headers["if-none-match"] == first.etag
    assert site.requests[-1].headers["if-modified-since"] == first.last_modified
    assert site.requests[-1].headers["user-agent"] == "monitor-test"


def test_redirects_are_followed_and_the_final_url_reported(site):
    target = site.put("/final", "<p>here</p>")
    site.put("/old", "", status=301, headers={"Location": "/final"})
    response = fetch(site.url("/old"), trusted=True)
    assert response.url == target and response.body == b"<p>here</p>"


def test_endless_redirects_stop(site):
    site.put("/a", "", status=302, headers={"Location": "/b"})
    site.put("/b", "", status=302, headers={"Location": "/a"})
    with pytest.raises(TooManyRedirects):
        fetch(site.url("/a"), trusted=True)


def test_error_statuses(site):
    with pytest.raises(HTTPStatusError) as caught:
        fetch(site.url("/missing"), trusted=True)
    assert caught.value.status == 404 and "HTTP 404" in str(caught.value)


def test_size_cap(site):
    url = site.put("/big", b"x" * 5000)
    with pytest.raises(ResponseTooLarge):
        fetch(url, trusted=True, limits=Limits(max_bytes=4096))
    assert len(fetch(url, trusted=True, limits=Limits(max_bytes=5000)).body) == 5000


def test_total_deadline(site):
    url = site.put("/slow", "late", delay=3)
    with pytest.raises(FetchTimeout):
        fetch(url, trusted=True, limits=Limits(timeout=0.5))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "[::1]", "0.0.0.0"])
def test_links_to_private_addresses_are_refused(site, host):
    site.put("/page", "<p>internal</p>")
    with pytest.raises(BlockedAddress):
        fetch(f"http://{host}:{site.port}/page")
    assert site.statuses("/page") == []


def test_private_networks_true_allows_links(site):
    url = site.put("/page", "<p>ok</p>")
    assert fetch(url, private_networks=True).body == b"<p>ok</p>"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://example.org/"])
def test_other_schemes_are_refused(url):
    with pytest.raises(BlockedAddress):
        fetch(url, trusted=True)


@pytest.mark.parametrize("address,public", [
    ("8.8.8.8", True), ("2a00:1450:4001:80b::200e", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fd00::1", False), ("fe80::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("224.0.0.1", False), ("not-an-address", False),
])
def test_is_public(address, public):
    assert is_public(address) is public


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::1", "::127.0.0.1", "::", "::1"])
def test_ipv6_forms_that_carry_a_private_ipv4_address(address):
    assert not is_public(address)


def test_every_redirect_hop_is_checked(site):
    # No address on this machine is public, so narrow the policy instead: 127.0.0.1 allowed,
    # 127.0.0.2 (the same host, over another loopback address) refused. The first hop passes;
    # the redirect it answers with must be checked again, and refused.
    site.put("/page", "<p>internal</p>")
    site.put("/hop", "", status=302, headers={"Location": f"http://127.0.0.2:{site.port}/page"})
    only_one = {"127.0.0.1"}.__contains__
    assert fetch(site.url("/page"), allowed=only_one).body == b"<p>internal</p>"    # the policy lets 127.0.0.1 in
    with pytest.raises(BlockedAddress, match="127.0.0.2"):
        fetch(site.url("/hop"), allowed=only_one)
    assert site.statuses("/page") == [200]                                   # the second hop never reached it
