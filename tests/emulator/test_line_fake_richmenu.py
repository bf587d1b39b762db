"""The fake LINE's rich menu endpoints refuse what LINE refuses (the sync's tests trust them)."""

from __future__ import annotations

import copy
import io
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from PIL import Image

from handlers.emulator import line_schema
from handlers.line.richmenu import build
from tests.conftest import FAKE_DATA_PREFIX
from tests.line_driver import ACCESS_TOKEN

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


@dataclass
class Answer:
    status_code: int
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def _send(method: str, url: str, headers: dict, data: bytes | None = None, json_body=None) -> Answer:
    headers = dict(headers)
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the local fake
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.read())


class requests:  # noqa: N801 - reads like the familiar client; urllib underneath (no extra dependency)
    @staticmethod
    def get(url, headers, timeout=5):
        return _send("GET", url, headers)

    @staticmethod
    def delete(url, headers, timeout=5):
        return _send("DELETE", url, headers)

    @staticmethod
    def post(url, headers, timeout=5, data=None, json=None):
        return _send("POST", url, headers, data=data, json_body=json)


def menu_body() -> dict:
    body = build("linked", "https://bot.example.jp").body
    return copy.deepcopy(body)


def test_our_menus_are_valid():
    for kind in ("newcomer", "linked"):
        assert line_schema.validate("RichMenuRequest", build(kind, "https://bot.example.jp").body) == []


@pytest.mark.parametrize("change, expected", [
    (lambda b: b.pop("chatBarText"), "chatBarText: must be specified"),
    (lambda b: b.update(chatBarText="あ" * 15), "chatBarText: size must be between 1 and 14"),
    (lambda b: b["size"].update(width=2600), "size.width: must be between 800 and 2500"),
    (lambda b: b["size"].update(height=200), "size.height: must be between 250 and 2500"),
    (lambda b: b.update(areas=[]), "areas: size must be between 1 and 20"),
    (lambda b: b["areas"][0]["action"].update(label="あ" * 21), "areas[0].action.label: size must be between 1 and 20"),
    (lambda b: b["areas"][0]["action"].update(type="camera"), "areas[0].action.type: must be one of"),
    (lambda b: b["areas"][0]["action"].pop("text"), "areas[0].action.text: must be specified"),
    (lambda b: b["areas"][0].pop("bounds"), "areas[0].bounds: must be specified"),
])
def test_schema_refuses_what_line_refuses(change, expected):
    body = menu_body()
    change(body)
    errors = line_schema.validate("RichMenuRequest", body)
    assert any(e.startswith(expected) for e in errors), errors


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def test_endpoints_refuse_areas_outside_wrong_images_and_second_uploads(fake_line_server, line_api):
    _recorder, base = fake_line_server
    body = menu_body()
    body["areas"][-1]["bounds"]["width"] += 1
    refused = requests.post(base + "/v2/bot/richmenu", json=body, headers=AUTH, timeout=5)
    assert refused.status_code == 400 and "inside the rich menu" in refused.text
    squat = menu_body()
    squat["size"] = {"width": 1200, "height": 1000}
    squat["areas"] = [{"bounds": {"x": 0, "y": 0, "width": 1200, "height": 1000},
                       "action": squat["areas"][0]["action"]}]
    assert requests.post(base + "/v2/bot/richmenu", json=squat, headers=AUTH, timeout=5).status_code == 400

    created = requests.post(base + "/v2/bot/richmenu", json=menu_body(), headers=AUTH, timeout=5)
    assert created.status_code == 200
    rich_menu_id = created.json()["richMenuId"]
    content = f"{base}{FAKE_DATA_PREFIX}/v2/bot/richmenu/{rich_menu_id}/content"
    # not on the Messaging API host: images live on the data host
    assert requests.post(f"{base}/v2/bot/richmenu/{rich_menu_id}/content", data=_png(2500, 1686),
                         headers={**AUTH, "Content-Type": "image/png"}, timeout=5).status_code in (404, 405)
    # no image yet: it can be neither the default nor linked
    assert requests.post(f"{base}/v2/bot/user/all/richmenu/{rich_menu_id}", headers=AUTH, timeout=5).status_code == 400
    wrong = requests.post(content, data=_png(2500, 843), headers={**AUTH, "Content-Type": "image/png"}, timeout=5)
    assert wrong.status_code == 400 and "2500x843" in wrong.text
    not_image = requests.post(content, data=b"hello", headers={**AUTH, "Content-Type": "text/plain"}, timeout=5)
    assert not_image.status_code == 415
    ok = requests.post(content, data=_png(2500, 1686), headers={**AUTH, "Content-Type": "image/png"}, timeout=5)
    assert ok.status_code == 200
    again = requests.post(content, data=_png(2500, 1686), headers={**AUTH, "Content-Type": "image/png"}, timeout=5)
    assert again.status_code == 400 and "already been uploaded" in again.text
    assert requests.get(content, headers=AUTH, timeout=5).content == _png(2500, 1686)

    user = "U" + "a" * 32
    assert requests.post(f"{base}/v2/bot/user/{user}/richmenu/{rich_menu_id}", headers=AUTH, timeout=5).ok
    assert requests.get(f"{base}/v2/bot/user/{user}/richmenu", headers=AUTH, timeout=5).json() == \
        {"richMenuId": rich_menu_id}
    too_many = requests.post(base + "/v2/bot/richmenu/bulk/link", headers=AUTH, timeout=5,
                             json={"richMenuId": rich_menu_id, "userIds": [user] * 501})
    assert too_many.status_code == 400
    assert requests.delete(f"{base}/v2/bot/richmenu/{rich_menu_id}", headers=AUTH, timeout=5).ok
    assert requests.get(f"{base}/v2/bot/user/{user}/richmenu", headers=AUTH, timeout=5).status_code == 404
    assert requests.delete(f"{base}/v2/bot/richmenu/{rich_menu_id}", headers=AUTH, timeout=5).status_code == 404
    assert requests.get(base + "/v2/bot/richmenu/list", headers={"Authorization": "Bearer nope"},
                        timeout=5).status_code == 401
