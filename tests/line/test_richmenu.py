"""The rich menus against the fake LINE: `flask richmenu sync`, the images, and menus that follow links."""

from __future__ import annotations

import dataclasses
import io

import pytest
from PIL import Image
from sqlalchemy import select

from bot import menus
from bot.menus import LINKED, NEWCOMER, OpenPage, SendText
from handlers.line import richmenu
from handlers.line.richmenu_image import menu_png
from storage.models import RichMenu
from tests.helpers_billing import seed_customer_with_account, seed_link


def sync(runner, *args):
    result = runner.invoke(args=["richmenu", "sync", *args])
    assert result.exit_code == 0, result.output
    return result.output


def kinds(line_api, kind):
    return line_api.accepted(kind)


def test_first_sync_creates_uploads_sets_default_and_links_customers(app, runner, line_api, make_line_user):
    linked_users = []
    for n in range(3):
        seeded = seed_customer_with_account(app, number=f"1000000{n}", login_id=f"user_{n}",
                                            email=f"u{n}@example.jp")
        user = make_line_user()
        seed_link(app, seeded.account_id, user.user_id)
        linked_users.append(user.user_id)
    output = sync(runner)
    assert "newcomer: created" in output and "linked: created" in output

    state = line_api.rich_menus
    created = kinds(line_api, "richmenu_create")
    assert len(created) == 2
    by_kind = {call.body["name"].split(":")[1]: call.body for call in created}
    assert by_kind[NEWCOMER]["size"] == {"width": 2500, "height": 1686}
    assert all(len(body["chatBarText"]) <= 14 for body in by_kind.values())
    texts = [a["action"].get("text") for a in by_kind[NEWCOMER]["areas"]]
    assert texts == ["登録", "ログインして連携", "よくある質問", "オペレーターと話す"]
    linked_actions = [a["action"] for a in by_kind[LINKED]["areas"]]
    assert [a.get("text") for a in linked_actions] == ["今月の料金", "料金一覧", "通知設定", None,
                                                       "オペレーターと話す", "ヘルプ"]
    assert linked_actions[3] == {"type": "uri", "label": "マイページ", "uri": "http://localhost/mypage"}

    uploads = kinds(line_api, "richmenu_image_upload")
    assert len(uploads) == 2 and all(u.path.startswith("/data/") for u in uploads)  # on the data host
    assert all(u.body["contentType"] == "image/png" for u in uploads)
    with app.extensions["db"].begin() as db:
        recorded = {m.kind: m.rich_menu_id for m in db.scalars(select(RichMenu))}
    assert state.default == recorded[NEWCOMER]
    bulk = kinds(line_api, "richmenu_bulk_link")
    assert len(bulk) == 1 and sorted(bulk[0].body["userIds"]) == sorted(linked_users)
    assert all(state.menu_for(u) == recorded[LINKED] for u in linked_users)
    assert state.menu_for(make_line_user().user_id) == recorded[NEWCOMER]  # everyone else: the default
    refused = [(c.kind, c.errors) for c in line_api.calls if c.status != 200]
    assert refused == [("richmenu_default_get", ["no default richmenu"])]  # asked before setting it


def test_second_sync_with_nothing_changed_creates_nothing(app, runner, line_api, make_line_user):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, make_line_user().user_id)
    sync(runner)
    first = len(line_api.calls)
    output = sync(runner)
    assert "nothing to change" in output
    again = {c.kind for c in line_api.calls[first:]}
    assert again == {"richmenu_list", "richmenu_default_get"}  # it only looked


def test_unchanged_again_without_clearing(app, runner, line_api):
    sync(runner)
    created = len(kinds(line_api, "richmenu_create"))
    sync(runner)
    assert len(kinds(line_api, "richmenu_create")) == created == 2
    assert len(kinds(line_api, "richmenu_image_upload")) == 2
    assert len(kinds(line_api, "richmenu_default_set")) == 1


def test_changed_definition_replaces_and_deletes_the_old_menu(app, runner, line_api, monkeypatch, make_line_user):
    seeded = seed_customer_with_account(app)
    user = make_line_user()
    seed_link(app, seeded.account_id, user.user_id)
    sync(runner)
    state = line_api.rich_menus
    old_linked = state.menu_for(user.user_id)
    old_newcomer = state.default
    changed = dataclasses.replace(menus.LINKED_MENU, chat_bar_text="お客様メニュー")
    monkeypatch.setitem(menus.MENUS, LINKED, changed)
    output = sync(runner)
    assert "linked: created" in output and "newcomer: unchanged" in output
    assert len(kinds(line_api, "richmenu_create")) == 3
    new_linked = state.menu_for(user.user_id)
    assert new_linked != old_linked and state.menus[new_linked]["chatBarText"] == "お客様メニュー"
    assert old_linked not in state.menus  # deleted after the switch
    assert state.default == old_newcomer
    deletes = kinds(line_api, "richmenu_delete")
    assert [d.body["richMenuId"] for d in deletes] == [old_linked]
    # the switch came before the delete
    order = [c.kind for c in line_api.accepted() if c.kind in ("richmenu_bulk_link", "richmenu_delete")]
    assert order[-2:] == ["richmenu_bulk_link", "richmenu_delete"]
    with app.extensions["db"].begin() as db:
        assert db.get(RichMenu, LINKED).rich_menu_id == new_linked


def test_a_menu_left_without_its_image_is_replaced(app, runner, line_api):
    """A sync that died between create and upload: the menu on LINE has the right name but no image."""
    sync(runner)
    state = line_api.rich_menus
    newcomer = state.default
    state.images.pop(newcomer)
    with app.extensions["db"].begin() as db:
        db.delete(db.get(RichMenu, NEWCOMER))
    sync(runner)
    assert state.default != newcomer and state.default in state.images
    assert newcomer not in state.menus


def test_upload_failure_leaves_no_menu_behind(app, runner, line_api, monkeypatch):
    small = io.BytesIO()
    Image.new("RGB", (800, 540), "white").save(small, format="PNG")  # not the menu's size: LINE refuses it
    monkeypatch.setattr(richmenu, "menu_png", lambda menu: small.getvalue())
    result = runner.invoke(args=["richmenu", "sync"])
    assert result.exit_code != 0
    assert line_api.rich_menus.menus == {}
    assert line_api.rich_menus.default is None


def test_rate_limit_from_line_stops_politely(app, runner, line_api):
    line_api.fail_next.append(429)
    result = runner.invoke(args=["richmenu", "sync"])
    assert result.exit_code == 1
    assert "run `richmenu sync` again" in result.output


def test_own_hourly_budget_is_respected(app, runner, line_api):
    limits = app.extensions["limits"]
    for _ in range(richmenu.HOURLY_LIMIT):
        limits.count_hit("richmenu_create", "channel", 3600)
    result = runner.invoke(args=["richmenu", "sync"])
    assert result.exit_code == 1 and "100 rich menu creates an hour" in result.output
    assert kinds(line_api, "richmenu_create") == []


def test_many_linked_customers_are_linked_500_at_a_time(app, runner, line_api):
    from datetime import datetime

    from storage.models import Account, Customer, LineLink
    from tests.helpers_billing import TOKYO

    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        for n in range(1001):
            customer = Customer(customer_number=str(20000000 + n), phone="0748621234", name_kana="テスト",
                                name=None, email=None, created_at=now, updated_at=now)
            account = Account(customer=customer, login_id=f"bulk_{n}", login_id_key=f"bulk_{n}",
                              email=f"b{n}@example.jp", nickname="b", password_hash="x", status="active",
                              session_version=1, created_at=now, activated_at=now)
            db.add_all([customer, account])
            db.flush()
            db.add(LineLink(line_user_id="U" + f"{n:032x}", account_id=account.id, notices_enabled=True,
                            linked_at=now))
    sync(runner)
    sizes = [len(c.body["userIds"]) for c in kinds(line_api, "richmenu_bulk_link")]
    assert sizes == [500, 500, 1]


# -- the images -------------------------------------------------------------------------------------
@pytest.mark.parametrize("menu", list(menus.MENUS.values()), ids=list(menus.MENUS))
def test_images_have_lines_sizes_and_every_area_has_a_label(menu):
    image = Image.open(io.BytesIO(menu_png(menu)))
    assert image.format == "PNG" and image.size == (menu.width, menu.height)
    assert (menu.width, menu.height) in ((2500, 1686), (2500, 843))
    assert len(menu_png(menu)) < 1024 * 1024
    covered = 0
    for area in menu.areas:
        assert 1 <= len(area.label) <= 20 and area.caption
        assert 0 <= area.x and area.x + area.width <= menu.width and area.y + area.height <= menu.height
        covered += area.width * area.height
        # something is drawn inside every area: its card holds dark (or white-on-accent) text pixels
        crop = image.crop((area.x, area.y, area.x + area.width, area.y + area.height)).convert("L")
        histogram = crop.histogram()
        assert sum(histogram[:90]) > 2000 or sum(histogram[250:]) > 2000
    assert covered == menu.width * menu.height  # the areas tile the whole menu: no dead spots


@pytest.mark.parametrize("kind", list(menus.MENUS))
def test_committed_images_are_the_drawn_ones(kind):
    from pathlib import Path

    committed = Path(__file__).resolve().parents[2] / "docs" / "richmenu" / f"{kind}.png"
    drawn = Image.open(io.BytesIO(menu_png(menus.MENUS[kind])))
    on_disk = Image.open(committed)
    # pixels, not bytes: another zlib may compress the same picture differently
    assert on_disk.size == drawn.size and on_disk.convert("RGB").tobytes() == drawn.convert("RGB").tobytes(), \
        "docs/richmenu is stale: run `flask --app app richmenu draw`"


def test_each_area_label_is_drawn_where_the_area_is(monkeypatch):
    """Draw with a spy: every label is drawn inside its own area's bounds."""
    from PIL import ImageDraw

    from handlers.line import richmenu_image

    drawn: list[tuple[float, float, str]] = []
    real_text = ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):
        drawn.append((xy[0], xy[1], text))
        return real_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    for menu in menus.MENUS.values():
        drawn.clear()
        richmenu_image.draw_menu(menu)
        for area in menu.areas:
            spots = [(x, y) for x, y, text in drawn if text == area.label]
            assert spots, f"{area.label} is not drawn"
            x, y = spots[0]
            assert area.x <= x <= area.x + area.width and area.y <= y <= area.y + area.height


BUILT_ELSEWHERE: set[str] = set()  # every tap's words are answered by some flow now


def test_every_tap_sends_words_the_bot_understands(app, line_user):
    """Each text a tap sends gets a real answer, not the 'I did not understand' menu."""
    from bot import messages

    for menu in menus.MENUS.values():
        for area in menu.areas:
            if isinstance(area.tap, OpenPage) or area.tap.text in BUILT_ELSEWHERE:
                continue
            assert isinstance(area.tap, SendText)
            replies = line_user.say(area.tap.text)
            assert replies, area.tap.text
            texts = "\n".join(m.get("text") or m.get("altText", "") for m in replies)
            if area.tap.text != "ヘルプ":
                assert messages.MENU_UNLINKED not in texts and messages.MENU_LINKED not in texts, area.tap.text
            if area.tap.text == messages.QR_OPERATOR:  # a person now has the chat: hand it back to the bot
                line_user.say(messages.QR_BACK_TO_BOT)
            line_user.say("キャンセル")


def test_draw_command_writes_both_images(runner, tmp_path):
    result = runner.invoke(args=["richmenu", "draw", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {"newcomer.png", "linked.png"}


def test_a_missing_font_fails_clearly(runner, monkeypatch):
    from handlers.line import richmenu_image

    def forget_drawings() -> None:  # the font found, and the menus drawn with it, once per process
        for drawn_once in (richmenu_image.font_path, richmenu_image._font, richmenu_image.menu_png):
            drawn_once.cache_clear()

    forget_drawings()
    monkeypatch.setattr(richmenu_image, "FONT_DIRS", ())
    try:
        result = runner.invoke(args=["richmenu", "sync"])
        assert result.exit_code == 1 and "make fonts" in result.output and "fonts-noto-cjk" in result.output
    finally:
        forget_drawings()
