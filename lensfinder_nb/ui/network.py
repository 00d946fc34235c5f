"""Where a served page can be reached from: the addresses to print when the server listens beyond loopback.

A teacher who serves a room (``lensfinder serve --ip 0.0.0.0``) needs the address students type, and
should read what that exposes.  The machine's own non-loopback IPv4 addresses come from its network
interfaces (psutil); nothing is sent anywhere.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil

__all__ = ["WILDCARDS", "lan_addresses", "public_base", "exposure_notice"]

#: listening on these means every interface of the machine
WILDCARDS = ("0.0.0.0", "::", "")


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback and link-local, private ones first."""
    found = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family != socket.AF_INET:
                continue
            ip = ipaddress.ip_address(a.address)
            if not (ip.is_loopback or ip.is_link_local) and a.address not in found:
                found.append(a.address)
    return sorted(found, key=lambda s: (not ipaddress.ip_address(s).is_private, s))


def public_base(ip: str, port: int) -> str:
    """The base URL people should open: the first LAN address for a wildcard ``ip``, else ``ip`` itself."""
    if ip in WILDCARDS:
        lan = lan_addresses()
        host = lan[0] if lan else "127.0.0.1"
    else:
        host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}"


def exposure_notice(ip: str, port: int) -> str:
    """What listening on ``ip`` exposes, for the terminal; empty on loopback."""
    if ipaddress.ip_address(ip if ip not in WILDCARDS else "0.0.0.0").is_loopback:
        return ""
    lan = lan_addresses() if ip in WILDCARDS else [ip]
    where = ", ".join(f"http://{a}:{port}/" for a in lan) or "(no network address found: only this machine)"
    return ("Listening beyond this machine: anyone who can reach " + where + " can open every page "
            "(classify, tutorial, personal centre) and vote under a name of their choice. The teacher's "
            "dashboard needs its key. Traffic is plain HTTP: use it on a classroom network, not the internet "
            "(put a reverse proxy with TLS in front for that; docs/deploy.md).")
