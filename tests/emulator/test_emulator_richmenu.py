"""The emulator's rich menu routes: loopback only, synced on request, the menu and image of the current user."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from tests.emulator.test_emulator import USER, emu, emulator  # noqa: F401  (fixtures)


@pytest.fixture
def app_config(app_config):
    """The emulator's own data host (derived from PUBLIC_BASE_URL), as under make run."""
    return dict(app_config, LINE_DATA_API_BASE_URL=None)


def test_routes_are_404_when_off(client):
    assert client.get("/emulator/api/richmenu?user=" + USER).status_code == 404
    assert client.post("/emulator/api/richmenu/sync").status_code == 404
    assert client.post("/emulator/line-data/v2/bot/richmenu/x/content").status_code == 404


def test_routes_answer_loopback_only(emu):
    for environ, headers in (({"REMOTE_ADDR": "192.0.2.10"}, {}),
                             ({"REMOTE_ADDR": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.5"})):
        assert emu.get("/emulator/api/richmenu?user=" + USER, environ_base=environ, headers=headers).status_code == 403
        assert emu.post("/emulator/api/richmenu/sync", environ_base=environ, headers=headers).status_code == 403


def test_sync_on_request_then_the_users_menu_and_image(emu):
    assert emu.get("/emulator/api/richmenu?user=bad").status_code == 400
    before = emu.get("/emulator/api/richmenu?user=" + USER).get_json()
    assert before == {"richMenuId": None, "synced": False}
    assert emu.post("/emulator/api/richmenu/sync").status_code == 202
    deadline = time.monotonic() + 20
    menu = before
    while menu["richMenuId"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
        menu = emu.get("/emulator/api/richmenu?user=" + USER).get_json()
    assert menu["richMenuId"] and menu["chatBarText"] == "メニュー"
    labels = [a["action"]["label"] for a in menu["areas"]]
    assert labels == ["登録する", "ログインして連携", "よくある質問", "オペレーターと話す"]
    image = emu.get(menu["imageUrl"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (menu["size"]["width"], menu["size"]["height"])
    assert emu.get("/emulator/api/richmenu/richmenu-unknown/image").status_code == 404
