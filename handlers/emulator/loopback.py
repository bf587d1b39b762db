"""The emulator is for this machine only: the loopback guard every emulator route sits behind.

The emulator acts as LINE (it signs webhooks) and shows live 本登録 links, so ``page`` and
``richmenu_view`` refuse (403) every client but loopback, and any proxied request;
``webhook_events`` uses ``is_loopback`` to post to the host the page came from.
"""

from __future__ import annotations

import ipaddress

from flask import abort, request


def is_loopback(address: str | None) -> bool:
    """An IP address of this machine (127.0.0.0/8, ::1); False for anything else, a name included."""
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def loopback_only():
    """The emulator acts as LINE (it signs webhooks) and shows live 本登録 links: local use only."""
    if request.headers.get("X-Forwarded-For") or not is_loopback(request.remote_addr):
        abort(403)
    return None
