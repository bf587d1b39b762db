"""The fake LINE's rich menus: the Messaging API host's rich-menu routes and LINE's data host.

``add_rich_menu_routes`` joins the Messaging API blueprint that ``line_api_fake.make_blueprint``
builds (create, validate, list, get, delete; the default menu; per-user and bulk links);
``make_data_blueprint`` is LINE's data host (``api-data.line.me``), where a menu's image is
uploaded and downloaded. Both pass ``line_api_gate`` first and keep the menus in the
recorder's ``RichMenuState`` (``line_api_recorder``; the emulator's lives in Redis). A menu
LINE would refuse is refused here too: the schema, areas inside the image, an aspect ratio of at
least 1.45, and an image that is PNG or JPEG, at most 1 MB and exactly the menu's size.
"""

from __future__ import annotations

import io
import secrets

from flask import Blueprint, Response, jsonify, request
from PIL import Image, UnidentifiedImageError

from handlers.emulator.line_api_gate import BAD_TOKEN_MESSAGE, admit, authorised, line_error, record, refuse
from handlers.emulator.line_api_recorder import LineApiRecorder

MAX_RICH_MENU_IMAGE_BYTES = 1024 * 1024  # LINE: JPEG or PNG, at most 1 MB
NOT_FOUND = "richmenu not found"


def add_rich_menu_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """Rich menu endpoints on the Messaging API host (the image lives on the data host)."""
    _add_menu_routes(bp, recorder)
    _add_default_menu_routes(bp, recorder)
    _add_user_menu_routes(bp, recorder)
    _add_bulk_link_routes(bp, recorder)


# -- LINE's rules for a menu and its image ----------------------------------------------------
def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, or None when it is neither."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                return None
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


def _rich_menu_problems(body: dict) -> list[str]:
    """LINE's rules the schema cannot say: areas inside the image, an aspect ratio of at least 1.45."""
    problems = []
    size = body["size"]
    if size["width"] / size["height"] < 1.45:
        problems.append("size: the aspect ratio (width / height) must be at least 1.45")
    for i, area in enumerate(body["areas"]):
        bounds = area["bounds"]
        if bounds["x"] + bounds["width"] > size["width"] or bounds["y"] + bounds["height"] > size["height"]:
            problems.append(f"areas[{i}].bounds: must be inside the rich menu ({size['width']}x{size['height']})")
    return problems


def _image_problem(menu: dict, content_type: str, data: bytes) -> tuple[int, str] | None:
    """(status, LINE's message) for an image LINE would not take for this menu, else None."""
    if content_type not in ("image/png", "image/jpeg"):
        return 415, "Content-Type must be image/png or image/jpeg"
    if len(data) > MAX_RICH_MENU_IMAGE_BYTES:
        return 400, "the image must be at most 1 MB"
    size = _image_size(data)
    expected = (menu["size"]["width"], menu["size"]["height"])
    if size is None:
        return 400, "the image is neither PNG nor JPEG"
    if size != expected:
        return 400, f"the image is {size[0]}x{size[1]}; the rich menu is {expected[0]}x{expected[1]}"
    return None


# -- small answers shared by the routes -------------------------------------------------------
def _ok(recorder: LineApiRecorder, kind: str, body=None, user_id: str | None = None, status: int = 200):
    """Record an accepted call and answer LINE's empty object (``status``: 200, or 202 for bulk)."""
    record(recorder, kind, body, user_id=user_id)
    return jsonify({}), status


def _checked_menu(recorder: LineApiRecorder, kind: str):
    """(the menu, None) when LINE would take it, else (None, LINE's error answer)."""
    body, error = admit(recorder, kind, "RichMenuRequest")
    if error:
        return None, error
    problems = _rich_menu_problems(body)
    if problems:
        record(recorder, kind, body, 400, problems)
        return None, line_error(400, "The request body has 1 error(s)", problems)
    return body, None


def _unusable(recorder: LineApiRecorder, kind: str, rich_menu_id: str, user_id: str | None = None):
    """Refuse a menu that does not exist or has no image yet, as LINE does (else None)."""
    state = recorder.rich_menus
    if rich_menu_id not in state.menus:
        return refuse(recorder, kind, 404, NOT_FOUND, {"richMenuId": rich_menu_id}, user_id)
    if rich_menu_id not in state.images:
        return refuse(recorder, kind, 400, "must upload richmenu image before applying it to user",
                      {"richMenuId": rich_menu_id}, user_id)
    return None


def _delete_menu(recorder: LineApiRecorder, rich_menu_id: str) -> bool:
    """Drop a menu with its image, as the default and from its users (LINE unlinks it); False if unknown."""
    state = recorder.rich_menus
    with recorder.lock:
        if state.menus.pop(rich_menu_id, None) is None:
            return False
        state.images.pop(rich_menu_id, None)
        if state.default == rich_menu_id:
            state.default = None
        for user_id in [u for u, m in state.users.items() if m == rich_menu_id]:
            del state.users[user_id]
    return True


# -- the Messaging API host -------------------------------------------------------------------
def _add_menu_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """Create, validate, list, get and delete rich menus."""
    state = recorder.rich_menus

    @bp.post("/v2/bot/richmenu")
    def create_rich_menu():
        body, error = _checked_menu(recorder, "richmenu_create")
        if error:
            return error
        rich_menu_id = "richmenu-" + secrets.token_hex(16)
        with recorder.lock:
            state.menus[rich_menu_id] = {"richMenuId": rich_menu_id, **body}
        record(recorder, "richmenu_create", body)
        return jsonify({"richMenuId": rich_menu_id})

    @bp.post("/v2/bot/richmenu/validate")
    def validate_rich_menu():
        body, error = _checked_menu(recorder, "richmenu_validate")
        return error or _ok(recorder, "richmenu_validate", body)

    @bp.get("/v2/bot/richmenu/list")
    def list_rich_menus():
        _body, error = admit(recorder, "richmenu_list", None)
        if error:
            return error
        record(recorder, "richmenu_list")
        with recorder.lock:
            return jsonify({"richmenus": list(state.menus.values())})

    @bp.get("/v2/bot/richmenu/<rich_menu_id>")
    def get_rich_menu(rich_menu_id: str):
        _body, error = admit(recorder, "richmenu_get", None)
        if error:
            return error
        menu = state.menus.get(rich_menu_id)
        if menu is None:
            return refuse(recorder, "richmenu_get", 404, NOT_FOUND)
        record(recorder, "richmenu_get")
        return jsonify(menu)

    @bp.delete("/v2/bot/richmenu/<rich_menu_id>")
    def delete_rich_menu(rich_menu_id: str):
        _body, error = admit(recorder, "richmenu_delete", None)
        if error:
            return error
        if not _delete_menu(recorder, rich_menu_id):
            return refuse(recorder, "richmenu_delete", 404, NOT_FOUND)
        return _ok(recorder, "richmenu_delete", {"richMenuId": rich_menu_id})


def _add_default_menu_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """The default menu: set, get, cancel."""
    state = recorder.rich_menus

    @bp.post("/v2/bot/user/all/richmenu/<rich_menu_id>")
    def set_default_rich_menu(rich_menu_id: str):
        _body, error = admit(recorder, "richmenu_default_set", None)
        if error:
            return error
        refused = _unusable(recorder, "richmenu_default_set", rich_menu_id)
        if refused:
            return refused
        state.default = rich_menu_id
        return _ok(recorder, "richmenu_default_set", {"richMenuId": rich_menu_id})

    @bp.get("/v2/bot/user/all/richmenu")
    def get_default_rich_menu():
        _body, error = admit(recorder, "richmenu_default_get", None)
        if error:
            return error
        if state.default is None:
            return refuse(recorder, "richmenu_default_get", 404, "no default richmenu")
        record(recorder, "richmenu_default_get")
        return jsonify({"richMenuId": state.default})

    @bp.delete("/v2/bot/user/all/richmenu")
    def cancel_default_rich_menu():
        _body, error = admit(recorder, "richmenu_default_cancel", None)
        if error:
            return error
        state.default = None
        return _ok(recorder, "richmenu_default_cancel")


def _add_user_menu_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """One user's menu: get, link, unlink."""
    state = recorder.rich_menus

    @bp.get("/v2/bot/user/<user_id>/richmenu")
    def get_user_rich_menu(user_id: str):
        _body, error = admit(recorder, "richmenu_user_get", None, user_id)
        if error:
            return error
        rich_menu_id = state.users.get(user_id)
        if rich_menu_id is None:
            return refuse(recorder, "richmenu_user_get", 404, "the user has no richmenu", user_id=user_id)
        record(recorder, "richmenu_user_get", user_id=user_id)
        return jsonify({"richMenuId": rich_menu_id})

    @bp.post("/v2/bot/user/<user_id>/richmenu/<rich_menu_id>")
    def link_user_rich_menu(user_id: str, rich_menu_id: str):
        _body, error = admit(recorder, "richmenu_link", None, user_id)
        if error:
            return error
        refused = _unusable(recorder, "richmenu_link", rich_menu_id, user_id)
        if refused:
            return refused
        state.users[user_id] = rich_menu_id
        return _ok(recorder, "richmenu_link", {"richMenuId": rich_menu_id}, user_id)

    @bp.delete("/v2/bot/user/<user_id>/richmenu")
    def unlink_user_rich_menu(user_id: str):
        _body, error = admit(recorder, "richmenu_unlink", None, user_id)
        if error:
            return error
        state.users.pop(user_id, None)
        return _ok(recorder, "richmenu_unlink", None, user_id)


def _add_bulk_link_routes(bp: Blueprint, recorder: LineApiRecorder) -> None:
    """Link or unlink many users at once (LINE answers 202)."""
    state = recorder.rich_menus

    @bp.post("/v2/bot/richmenu/bulk/link")
    def bulk_link():
        body, error = admit(recorder, "richmenu_bulk_link", "RichMenuBulkLinkRequest")
        if error:
            return error
        refused = _unusable(recorder, "richmenu_bulk_link", body["richMenuId"])
        if refused:
            return refused
        with recorder.lock:
            for user_id in body["userIds"]:
                state.users[user_id] = body["richMenuId"]
        return _ok(recorder, "richmenu_bulk_link", body, status=202)

    @bp.post("/v2/bot/richmenu/bulk/unlink")
    def bulk_unlink():
        body, error = admit(recorder, "richmenu_bulk_unlink", "RichMenuBulkUnlinkRequest")
        if error:
            return error
        with recorder.lock:
            for user_id in body["userIds"]:
                state.users.pop(user_id, None)
        return _ok(recorder, "richmenu_bulk_unlink", body, status=202)


# -- LINE's data host -------------------------------------------------------------------------
def make_data_blueprint(recorder: LineApiRecorder, name: str = "line_data_api_fake") -> Blueprint:
    """LINE's data host (``api-data.line.me``): upload and download of rich menu images."""
    bp = Blueprint(name, __name__)
    state = recorder.rich_menus

    def door(kind: str):
        """The data host's own check: the token, then a plain injected status (no schema, no delay)."""
        if not authorised(recorder):
            return refuse(recorder, kind, 401, BAD_TOKEN_MESSAGE)
        if recorder.fail_next:
            return refuse(recorder, kind, recorder.fail_next.pop(0), "injected failure")
        return None

    @bp.post("/v2/bot/richmenu/<rich_menu_id>/content")
    def upload_rich_menu_image(rich_menu_id: str):
        kind = "richmenu_image_upload"
        refused = door(kind)
        if refused:
            return refused
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        data = request.get_data()
        summary = {"richMenuId": rich_menu_id, "contentType": content_type, "bytes": len(data)}
        menu = state.menus.get(rich_menu_id)
        if menu is None:
            return refuse(recorder, kind, 404, NOT_FOUND, summary)
        if rich_menu_id in state.images:
            return refuse(recorder, kind, 400, "An image has already been uploaded to the richmenu", summary)
        problem = _image_problem(menu, content_type, data)
        if problem:
            return refuse(recorder, kind, *problem, summary)
        with recorder.lock:
            state.images[rich_menu_id] = (content_type, data)
        record(recorder, kind, summary)
        return jsonify({})

    @bp.get("/v2/bot/richmenu/<rich_menu_id>/content")
    def download_rich_menu_image(rich_menu_id: str):
        kind = "richmenu_image_download"
        refused = door(kind)
        if refused:
            return refused
        image = state.images.get(rich_menu_id)
        if image is None:
            return refuse(recorder, kind, 404, "richmenu image not found", {"richMenuId": rich_menu_id})
        record(recorder, kind, {"richMenuId": rich_menu_id})
        return Response(image[1], mimetype=image[0])

    return bp
