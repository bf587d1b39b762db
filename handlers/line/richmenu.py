"""The お客様メニュー on LINE: rich menu objects built from ``bot.menus``, the sync behind
``flask richmenu sync`` (the command is ``handlers.cli.richmenu``), and the job that shows one
customer the menu that fits them.

``richmenu sync`` is idempotent. Each menu's name carries a hash of its object and image
(``aicom:<kind>:<hash>``); a menu already on LINE under that name is kept, so an unchanged
definition creates and uploads nothing. On a change: create the new menu, upload its image
(on the data host, ``LINE_DATA_API_BASE_URL``), switch (the newcomers' menu becomes the
default; every linked customer is linked to the linked customers' one, 500 users a call),
record the menus in ``rich_menus``, and only then delete the old ones. LINE allows 100
creations and 100 deletions an hour: the sync counts its own and stops before that,
and a 429 from LINE stops it too, saying to run it again later.

``switch_menu_job`` (the ``SwitchMenu`` effect's job; the 本登録 page queues it by path)
reads the link from the database when it runs: linked users get the linked customers'
menu; everyone else is unlinked from any per-user menu and so sees the default. Before the
first sync it does nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    RichMenuBulkLinkRequest,
    RichMenuRequest,
)

from bot.menus import KINDS, LINKED, MENUS, NEWCOMER, Menu, OpenPage
from handlers import clock, jobs
from handlers.line.richmenu_image import menu_png
from storage import keys, richmenus
from storage.errors import Unavailable
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)

NAME_PREFIX = "aicom:"
BULK_LINK_MAX = 500  # LINE's limit of user IDs per bulk link call
HOURLY_LIMIT = 100  # LINE: create and delete rich menu, 100 requests an hour each
REQUEST_TIMEOUT = (5, 30)  # an image upload takes longer than a reply


class RateLimited(Unavailable):
    """LINE's hourly rich menu limit is (nearly) reached: run the sync again later."""


@dataclass(frozen=True)
class BuiltMenu:
    """A menu ready for LINE: the rich menu object, its PNG, and the hash of both."""

    kind: str
    body: dict
    png: bytes
    digest: str


def rich_menu_object(menu: Menu, public_base_url: str) -> dict:
    """The LINE rich menu object (without its name) for a menu of ``bot.menus``."""
    areas = []
    for area in menu.areas:
        if isinstance(area.tap, OpenPage):
            action = {"type": "uri", "label": area.label, "uri": public_base_url.rstrip("/") + area.tap.path}
        else:
            action = {"type": "message", "label": area.label, "text": area.tap.text}
        areas.append({"bounds": {"x": area.x, "y": area.y, "width": area.width, "height": area.height},
                      "action": action})
    return {"size": {"width": menu.width, "height": menu.height}, "selected": True,
            "chatBarText": menu.chat_bar_text, "areas": areas}


def build(kind: str, public_base_url: str) -> BuiltMenu:
    """Build one menu: object, image, and a name that carries their hash."""
    body = rich_menu_object(MENUS[kind], public_base_url)
    png = menu_png(MENUS[kind])
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode() + png).hexdigest()
    return BuiltMenu(kind, {"name": f"{NAME_PREFIX}{kind}:{digest[:32]}", **body}, png, digest)


def messaging_api() -> MessagingApi:
    return current_app.extensions["line_messaging_api"]


def blob_api() -> MessagingApiBlob:
    return current_app.extensions["line_messaging_api_blob"]


# -- sync -------------------------------------------------------------------------------------
@dataclass
class SyncReport:
    """What a sync did, for the command's output."""

    lines: list[str] = field(default_factory=list)
    created: int = 0
    deleted: int = 0
    linked_users: int = 0

    def say(self, line: str) -> None:
        self.lines.append(line)
        log.info("richmenu sync: %s", line)


def _spend(kind: str) -> None:
    """Count one create or delete against LINE's hourly limit (our own count: LINE sends no Retry-After)."""
    try:
        used = current_app.extensions["limits"].count_hit(f"richmenu_{kind}", "channel", 3600)
    except StateUnavailable:
        return  # LINE still answers 429 if we overstep; that stops the sync too
    if used > HOURLY_LIMIT:
        raise RateLimited(f"LINE allows {HOURLY_LIMIT} rich menu {kind}s an hour")


def _call(what: str, func, *args, **kwargs):
    try:
        return func(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    except ApiException as exc:
        if exc.status == 429:
            raise RateLimited(f"LINE answered 429 to {what}") from exc
        raise


def _has_image(rich_menu_id: str) -> bool:
    try:
        _call("download image", blob_api().get_rich_menu_image, rich_menu_id)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def _create(built: BuiltMenu) -> str:
    _spend("create")
    rich_menu_id = _call("create", messaging_api().create_rich_menu, RichMenuRequest.from_dict(built.body)).rich_menu_id
    try:
        _call("upload image", blob_api().set_rich_menu_image, rich_menu_id, body=built.png,
              _headers={"Content-Type": "image/png"})
    except Exception:
        # A menu without its image can be neither the default nor linked: do not leave it behind.
        try:
            _call("delete", messaging_api().delete_rich_menu, rich_menu_id)
        except Exception:  # noqa: BLE001 - the next sync deletes it (it is ours by name)
            log.warning("could not delete a rich menu whose image failed to upload")
        raise
    return rich_menu_id


def _default_menu_id() -> str | None:
    try:
        return _call("get default", messaging_api().get_default_rich_menu_id).rich_menu_id
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def sync(relink: bool = False) -> SyncReport:
    """Bring LINE's rich menus in line with ``bot.menus`` (see the module docstring)."""
    report = SyncReport()
    base = current_app.config["PUBLIC_BASE_URL"]
    sessions = current_app.extensions["db"].sessions
    built = {kind: build(kind, base) for kind in KINDS}
    on_line = [m for m in _call("list", messaging_api().get_rich_menu_list).richmenus
               if m.name.startswith(NAME_PREFIX)]
    with sessions.begin() as db:
        recorded = {kind: menu.rich_menu_id for kind, menu in richmenus.current_menus(db).items()}

    current: dict[str, str] = {}
    for kind in KINDS:
        menu = built[kind]
        found = next((m.rich_menu_id for m in on_line if m.name == menu.body["name"]), None)
        if found and (recorded.get(kind) == found or _has_image(found)):
            current[kind] = found
            report.say(f"{kind}: unchanged ({found})")
            continue
        current[kind] = _create(menu)
        report.created += 1
        report.say(f"{kind}: created {current[kind]} and uploaded its image")

    if _default_menu_id() != current[NEWCOMER]:
        _call("set default", messaging_api().set_default_rich_menu, current[NEWCOMER])
        report.say(f"default menu (newcomers): {current[NEWCOMER]}")
    if relink or recorded.get(LINKED) != current[LINKED]:
        with sessions.begin() as db:
            batches = list(richmenus.linked_line_users(db, BULK_LINK_MAX))
        for user_ids in batches:
            _call("bulk link", messaging_api().link_rich_menu_id_to_users,
                  RichMenuBulkLinkRequest(richMenuId=current[LINKED], userIds=user_ids))
            report.linked_users += len(user_ids)
        report.say(f"linked customers: {report.linked_users} linked to {current[LINKED]} "
                   f"in {len(batches)} call(s)")

    now = clock.now()
    with sessions.begin() as db:
        for kind in KINDS:
            if recorded.get(kind) != current[kind]:
                richmenus.save_menu(db, kind, current[kind], built[kind].digest, now)

    for old in on_line:
        if old.rich_menu_id in current.values():
            continue
        _spend("delete")
        try:
            _call("delete", messaging_api().delete_rich_menu, old.rich_menu_id)
        except ApiException as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise
        report.deleted += 1
        report.say(f"deleted old menu {old.rich_menu_id}")
    if not report.created and not report.deleted:
        report.say("nothing to change")
    return report


# -- one customer's menu ----------------------------------------------------------------------
MENU_LOCK_SECONDS = 15  # longer than a switch's two LINE timeouts (2 s + 5 s)


def switch_menu_job(user_id: str, linked: bool) -> None:
    """Show this LINE user the menu that fits them now (the database decides, not ``linked``).

    One switch at a time per person (a Redis lock around reading the link and telling LINE):
    with link and unlink a second apart on two workers, whichever runs second reads the later
    state and is the last LINE hears, so the menu always ends as the link says."""
    lock = current_app.extensions["redis"].lock(keys.menu_lock_key(user_id), timeout=MENU_LOCK_SECONDS,
                                                blocking_timeout=MENU_LOCK_SECONDS)
    if not lock.acquire():
        raise RuntimeError("another menu switch for this person holds the lock; retrying later")
    try:
        _switch_menu(user_id, linked)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # expired meanwhile: the next switch reads the database anyway
            pass


def _switch_menu(user_id: str, linked: bool) -> None:
    with current_app.extensions["db"].sessions.begin() as db:
        menus = richmenus.current_menus(db)
        linked_now = richmenus.is_linked(db, user_id)
    if not menus:
        return  # no rich menu synced yet: nothing to switch
    if linked_now != linked:
        log.info("menu switch: the link changed again before the job ran; following the database")
    try:
        if linked_now and LINKED in menus:
            messaging_api().link_rich_menu_id_to_user(user_id, menus[LINKED].rich_menu_id,
                                                      _request_timeout=(2, 5))
        else:
            messaging_api().unlink_rich_menu_id_from_user(user_id, _request_timeout=(2, 5))
    except ApiException as exc:
        if exc.status in (400, 404):  # a user who blocked us, a menu a sync just replaced: not worth retrying
            log.warning("LINE refused a rich menu switch (%s); not retrying", exc.status)
            return
        raise


def init_app(app: Flask) -> None:
    """The data-host client (image upload); the SwitchMenu and SyncRichMenus jobs go to the bulk queue."""
    blob_client = ApiClient(Configuration(host=app.config["LINE_DATA_API_BASE_URL"],
                                          access_token=app.config["LINE_CHANNEL_ACCESS_TOKEN"]))
    app.extensions["line_messaging_api_blob"] = MessagingApiBlob(blob_client)
    jobs.bulk(app, switch_menu_job)  # a menu can wait behind a password-reset mail; a customer cannot
    jobs.bulk(app, sync_job)


def sync_job() -> None:
    """``richmenu sync`` as a job (the ``SyncRichMenus`` effect: the emulator asks when it has no menus yet)."""
    sync()  # its report is logged line by line
