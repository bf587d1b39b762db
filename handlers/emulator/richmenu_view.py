"""The emulator's rich menu: what the LINE app would show the current user, drawn from the uploaded image.

``GET /emulator/api/richmenu?user=U...`` answers the menu the fake LINE holds for that user
(their own link, else the default) with its areas and an image URL; ``POST
/emulator/api/richmenu/sync`` queues ``richmenu sync`` (the LINE edge's job, by path) so a
fresh ``make run`` gets its menus without a second terminal. The page's script is
``static/emulator-richmenu.js``: it lays a button over each area and a tap does what the
LINE app does (a message action sends its text, a URI action opens the page).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request, url_for

from bot.types import SyncRichMenus
from handlers import jobs
from handlers.emulator.loopback import loopback_only
from handlers.emulator.webhook_events import is_line_user_id

bp = Blueprint("emulator_richmenu", __name__)
bp.before_request(loopback_only)


def _state():
    return current_app.extensions["emulator_recorder"].rich_menus


@bp.get("/emulator/api/richmenu")
def current_menu():
    """The rich menu the LINE app would show ``user`` now (``richMenuId`` null when none)."""
    user_id = request.args.get("user", "")
    if not is_line_user_id(user_id):
        return jsonify({"error": "user must be a LINE user ID"}), 400
    state = _state()
    rich_menu_id = state.menu_for(user_id)
    menu = state.menus.get(rich_menu_id) if rich_menu_id else None
    if menu is None or rich_menu_id not in state.images:
        return jsonify({"richMenuId": None, "synced": bool(state.menus)})
    return jsonify({"richMenuId": rich_menu_id, "synced": True, "size": menu["size"],
                    "chatBarText": menu["chatBarText"], "selected": menu["selected"], "areas": menu["areas"],
                    "imageUrl": url_for("emulator_richmenu.image", rich_menu_id=rich_menu_id)})


@bp.get("/emulator/api/richmenu/<rich_menu_id>/image")
def image(rich_menu_id: str):
    """The image uploaded for a rich menu."""
    found = _state().images.get(rich_menu_id)
    if found is None:
        abort(404)
    return Response(found[1], mimetype=found[0], headers={"Cache-Control": "max-age=3600"})


@bp.post("/emulator/api/richmenu/sync")
def sync():
    """Queue ``richmenu sync`` (the page asks when LINE, here, has no rich menu yet)."""
    jobs.perform(SyncRichMenus())
    return jsonify({"queued": True}), 202


def init_app(app: Flask) -> None:
    """Register the rich menu routes (JSON from the page, loopback only: no CSRF token)."""
    app.extensions["csrf"].exempt(bp)
    app.register_blueprint(bp)
