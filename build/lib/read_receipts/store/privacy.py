"""What is kept of a reader: the address as IP_STORAGE says, for as long as RETENTION_DAYS says."""

from __future__ import annotations

import ipaddress

IP_MODES = ("truncated", "full", "none")


def kept_address(address: str | None, mode: str) -> str | None:
    """Return the address as it may be stored: whole, cut to its network (/24, /48), or not at all."""
    if mode == "full" or address is None:
        return address
    if mode == "none":
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None  # not an address: nothing worth keeping
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
