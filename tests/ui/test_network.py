"""Addresses printed by a server that listens beyond loopback, and what it says it exposes."""

from __future__ import annotations

import ipaddress

from lensfinder_nb.ui.network import exposure_notice, lan_addresses, public_base


def test_loopback_exposes_nothing_and_keeps_its_own_address():
    assert exposure_notice("127.0.0.1", 8866) == ""
    assert public_base("127.0.0.1", 8866) == "http://127.0.0.1:8866"
    assert public_base("::1", 80) == "http://[::1]:80"


def test_wildcard_names_the_machines_lan_addresses_and_what_is_exposed():
    lan = lan_addresses()
    assert all(not ipaddress.ip_address(a).is_loopback for a in lan)
    notice = exposure_notice("0.0.0.0", 9000)
    assert "every page" in notice and "plain HTTP" in notice
    if lan:
        assert public_base("0.0.0.0", 9000) == f"http://{lan[0]}:9000"
        assert all(f"http://{a}:9000/" in notice for a in lan)
    else:
        assert "only this machine" in notice


def test_a_named_interface_address_is_shown_as_given():
    notice = exposure_notice("192.168.1.20", 8866)
    assert "http://192.168.1.20:8866/" in notice
    assert public_base("192.168.1.20", 8866) == "http://192.168.1.20:8866"
