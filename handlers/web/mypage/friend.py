"""The way in for newcomers: the LINE official account's add-friend link and its QR code, drawn once at start-up
and offered to every page's template as ``add_friend``."""

from __future__ import annotations

from urllib.parse import quote

import segno
from flask import current_app

ADD_FRIEND_URL = "https://line.me/R/ti/p/{basic_id}"  # opens LINE's add-friend screen (the app on a phone)
QR_SCALE = 5


def add_friend(basic_id: str | None) -> dict | None:
    """The add-friend link and its QR code (an SVG data URI: the CSP allows ``img-src data:``), or None."""
    basic_id = (basic_id or "").strip()
    if not basic_id:
        return None
    url = ADD_FRIEND_URL.format(basic_id=quote(basic_id, safe=""))
    qr = segno.make(url, error="m")
    border = 2
    return {"basic_id": basic_id, "url": url, "qr": qr.svg_data_uri(scale=QR_SCALE, border=border),
            "qr_size": (qr.symbol_size(scale=1, border=border)[0]) * QR_SCALE}


def add_friend_context() -> dict:
    """The templates' ``add_friend``: the link and QR code ``init_app`` drew (None without ``LINE_BASIC_ID``)."""
    return {"add_friend": current_app.extensions.get("line_add_friend")}
