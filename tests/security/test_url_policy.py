"""Hostile URLs and addresses against the target policy (judge.targets): every one is refused
with a reason, and the few that are allowed are allowed for the right reason. Pure."""

from __future__ import annotations

import pytest

from readygate.api.urls import split_url
from readygate.judge.targets import address_refusal, name_refusal, url_refusal

GLOBAL = "93.184.216.34"  # any global unicast address; pure data, never contacted


@pytest.mark.parametrize(("url", "why"), [
    ("http://a.example.com:99999/", "not a valid URL"),
    ("http://[::1/", "not a valid URL"),
    ("http://" + "a" * 64 + ".example.com/", "not a valid host name label"),
    ("http://..example.com/", "not a valid host name label"),
    ("http://-a.example.com/", "not a valid host name label"),
    ("http://" + "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45" + ".com/", "not ASCII"),  # full-width
    ("http://bücher.example.com/", "not ASCII"),
    ("http://user:secret@api.example.com/", "credentials"),
    ("ftp://api.example.com/", "scheme"),
    ("http:///path", "no host"),
    ("http://a.example.com:0/", "port 0"),
    ("http://" + "a." * 127 + "com/", "longer than"),
])
def test_malformed_urls_are_refused_with_the_fix(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        split_url(url)
    refusal = url_refusal(url, [GLOBAL], ["*.example.com", "0.0.0.0/0"])
    assert refusal is not None and why in refusal


def test_idna_host_in_ascii_form_is_accepted_and_matched_as_ascii() -> None:
    url = "http://xn--bcher-kva.example.com/"
    assert split_url(url)[1] == "xn--bcher-kva.example.com"
    assert url_refusal(url, [GLOBAL], ["*.example.com"]) is None
    assert name_refusal(url, ["bücher.example.com"]) is None  # an entry written in Unicode


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1",  # loopback, 1918, CGNAT
    "10.96.0.1",  # a typical Service range
    "::1", "fd12:3456::1",
])
@pytest.mark.parametrize("allow", [["api.example.com"], ["*.example.com"], ["0.0.0.0/0", "::/0"],
                                   ["api.example.com", "0.0.0.0/0"]])
def test_names_and_catch_all_cidrs_admit_only_global_addresses(address: str,
                                                               allow: list[str]) -> None:
    why = url_refusal("http://api.example.com/", [address], allow)
    assert why is not None and ("private, loopback or shared" in why or "does not admit" in why)


@pytest.mark.parametrize(("address", "allow"), [
    ("10.1.2.3", ["api.example.com", "10.0.0.0/8"]),
    ("127.0.0.1", ["127.0.0.1/32"]),
    ("100.64.0.1", ["100.64.0.0/10", "api.example.com"]),
])
def test_a_cidr_naming_a_private_range_admits_it(address: str, allow: list[str]) -> None:
    assert url_refusal("http://api.example.com/", [address], allow) is None


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.170.2", "168.63.129.16", "100.100.100.200", "192.0.0.192",
    "fd00:ec2::254", "fd00:ec2::1", "fe80::1", "169.254.1.1", "0.0.0.0", "::", "224.0.0.1",
    "255.255.255.255", "::ffff:169.254.169.254",
])
def test_metadata_and_link_local_are_never_targets(address: str) -> None:
    allow = ["0.0.0.0/0", "::/0", "169.254.0.0/16", "168.63.129.16/32", "api.example.com",
             "fd00::/8"]
    why = url_refusal("http://api.example.com/", [address], allow)
    assert why is not None and "never a target" in why
    host = f"[{address}]" if ":" in address else address
    why = url_refusal(f"http://{host}/", [address], allow)
    assert why is not None and "never a target" in why


@pytest.mark.parametrize("host", ["metadata.google.internal", "metadata", "instance-data",
                                  "metadata.azure.internal"])
def test_metadata_names_are_refused_before_resolving(host: str) -> None:
    why = name_refusal(f"http://{host}/", ["*.internal", host, "0.0.0.0/0"])
    assert why is not None and "metadata" in why


def test_an_unlisted_host_is_refused_as_not_allowed_whatever_dns_says() -> None:
    # the policy runs before any resolution: no DNS answer (or none at all) changes the reason
    why = name_refusal("http://nowhere.invalid/", ["api.example.com"])
    assert why is not None and "not on the operator's URL allow-list" in why


def test_every_resolved_address_must_be_admitted() -> None:
    why = address_refusal("api.example.com", [GLOBAL, "10.0.0.1"], ["api.example.com"])
    assert why is not None and "10.0.0.1" in why
    assert address_refusal("api.example.com", [GLOBAL], ["api.example.com"]) is None


def test_suffix_entries_do_not_match_the_bare_suffix_or_lookalikes() -> None:
    assert name_refusal("http://example.com/", ["*.example.com"]) is not None
    assert name_refusal("http://evilexample.com/", ["*.example.com"]) is not None
    assert name_refusal("http://a.example.com/", ["*.example.com"]) is None
