"""The emulator's staff pane (Slack not configured): escalations, replies, notes and 対応完了 over its API."""

from __future__ import annotations

import time

from tests.emulator.test_emulator import USER, emu, emulator  # noqa: F401 - fixtures


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def staff_entries(emu):  # noqa: F811 - the fixture's name
    return [e for e in emu.log(user=USER)["entries"] if e["kind"] == "staff"]


def delivered(emu) -> list[str]:  # noqa: F811
    messages = emu.get(f"/emulator/api/messages?user={USER}").get_json()["messages"]
    return [m["message"].get("text", "") for m in messages]


def test_escalation_reply_note_and_close_through_the_staff_pane(emu):  # noqa: F811
    emu.send(user=USER, type="text", text="ネットが遅い", displayName="テスト花子")
    emu.send(user=USER, type="text", text="オペレーター")
    (opened,) = wait_for(lambda: [e for e in staff_entries(emu) if e["what"] == "opened"])
    assert opened["display_name"] == "テスト花子" and opened["payload"]["recent"] == ["ネットが遅い"]
    assert opened["payload"]["linked"] is False
    before = len(delivered(emu))
    emu.send(user=USER, type="text", text="つながりません")
    emu.send(user=USER, type="sticker")
    wait_for(lambda: len([e for e in staff_entries(emu) if e["what"] == "customer"]) == 2)
    assert [e["payload"]["text"] for e in staff_entries(emu) if e["what"] == "customer"] == [
        "つながりません", "（スタンプが送信されました）"]
    assert len(delivered(emu)) == before  # the bot said nothing

    assert emu.post("/emulator/api/staff/reply", json={"user": USER, "text": "note: 回線を確認"}).status_code == 200
    assert emu.post("/emulator/api/staff/reply", json={"user": USER, "text": "担当の田中です"}).status_code == 200
    wait_for(lambda: "担当の田中です" in delivered(emu))
    assert not any("回線を確認" in t for t in delivered(emu))
    wait_for(lambda: [e["what"] for e in staff_entries(emu)][-2:] == ["note", "staff"])

    assert emu.post("/emulator/api/staff/close", json={"user": USER}).status_code == 200
    wait_for(lambda: any("担当者とのトークを終了しました" in t for t in delivered(emu)))
    wait_for(lambda: staff_entries(emu)[-1]["what"] == "closed")
    assert emu.post("/emulator/api/staff/close", json={"user": USER}).status_code == 409
    emu.send(user=USER, type="text", text="ヘルプ")
    wait_for(lambda: any("メニュー" in t or "登録" in t for t in delivered(emu)[-1:]))


def test_staff_routes_need_an_open_handoff(emu):  # noqa: F811
    assert emu.post("/emulator/api/staff/reply", json={"user": USER, "text": "x"}).status_code == 409
    assert emu.post("/emulator/api/staff/reply", json={"user": USER}).status_code == 400


def test_the_page_has_the_staff_pane(emu):  # noqa: F811
    page = emu.get("/emulator").get_data(as_text=True)
    for testid in ("staff-log", "staff-input", "staff-close", "chat-input", "chat-log", "user-select", "mailbox"):
        assert f'data-testid="{testid}"' in page


def test_the_page_sends_without_waiting_and_the_reply_still_arrives(emu):  # noqa: F811
    answer = emu.send(user=USER, type="text", text="ヘルプ", wait=False)
    assert answer["status"] == 202
    wait_for(lambda: [e for e in emu.log(user=USER)["entries"] if e["kind"] == "callback" and e["status"] == 200])
    wait_for(lambda: any("ご用件をお選びください" in t for t in delivered(emu)))
