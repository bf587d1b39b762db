"""The Slack edge's jobs: post a handoff's outbox to its thread, take staff replies and 対応完了,
and the no-reply timer.

One thread per handoff (as Chatwoot does): the escalation message, posted first, carries
the 「対応完了」 button; its ``ts`` becomes the thread every later post goes to. Posts come
from the handoff's outbox in the database (``storage.handoffs``: written in the customer's
turn, drained oldest first by one job at a time, retried by RQ), so they reach Slack in
order even across a Slack outage. Staff replies reach LINE by the LINE edge's push job,
queued by path: this edge never imports the LINE one.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from bot.flows import handoff as handoff_flow
from bot.hours import TOKYO
from bot.types import PushReplies, StaffOutbox
from handlers import clock, jobs
from handlers.slack.client import bot_identity, line_display_name, web_client
from storage import handoffs
from storage.models import Handoff, HandoffMessage

log = logging.getLogger(__name__)

CLOSE_ACTION_ID = "close_handoff"
HUMAN_SUBTYPES = ("thread_broadcast", "file_share")
REASONS = {handoff_flow.REASON_ASKED: "お客様がオペレーターを希望",
           handoff_flow.REASON_VERIFICATION_LIMIT: "本人確認の回数制限に達した"}
_SLACK_LINK = re.compile(r"<([^|>]+)\|([^>]+)>|<([^>]+)>")


def when(value: datetime | str) -> str:
    """``2026年12月1日 10:05`` in Asia/Tokyo."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(TOKYO)
    return f"{local.year}年{local.month}月{local.day}日 {local.hour}:{local.minute:02d}"


def no_reply_minutes() -> int:
    return int(current_app.config.get("HANDOFF_NO_REPLY_MINUTES") or 15)


# -- what staff read ---------------------------------------------------------------------------
def escalation_summary(opened: dict[str, Any], display_name: str | None) -> str:
    """The escalation's facts, as Slack mrkdwn (also the emulator's staff pane uses the same facts)."""
    linked = f"連携済み（お客様番号 {opened['customer_number']}）" if opened.get("linked") else "未連携"
    hours = "" if opened.get("within_hours", True) else "（受付時間外：翌営業日の対応とご案内済み）"
    lines = [f"*LINEのお客様が担当者との会話を希望しています*{hours}",
             f"表示名: {_escape(display_name) if display_name else '（取得できませんでした）'}",
             f"マイページ連携: {linked}",
             f"理由: {REASONS.get(opened.get('reason', ''), opened.get('reason', ''))}",
             f"受付: {when(opened['opened_at'])}"]
    return "\n".join(lines)


def _recent_block(opened: dict[str, Any]) -> dict | None:
    recent = opened.get("recent") or []
    if not recent:
        return None
    understood = opened.get("understood") or []
    lines = []
    for number, text in enumerate(recent):
        lines.append("> " + _escape(text))
        if number < len(understood) and understood[number]:
            lines.append("　→ " + _escape(understood[number]))
    quoted = "\n".join(lines)
    title = "*直前のお客様の発言と自動応答の理解（番号は伏せ字）*\n"
    return {"type": "section", "text": {"type": "mrkdwn", "text": title + quoted}}


def _escape(text: str) -> str:
    """Text shown as-is in Slack mrkdwn (``&``, ``<``, ``>`` escaped as Slack asks): every string a
    customer controls (their LINE display name, what they typed) goes through it, so
    ``<!channel>`` or ``<https://evil.example|お支払い確認>`` is shown, not obeyed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escalation_blocks(handoff_id: int, opened: dict[str, Any], display_name: str | None,
                      closed: dict[str, Any] | None = None) -> list[dict]:
    """The escalation message: facts, recent texts, how to reply, and 「対応完了」 (or who closed it)."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn",
                                                       "text": escalation_summary(opened, display_name)}}]
    recent = _recent_block(opened)
    if recent:
        blocks.append(recent)
    if closed is None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       "このスレッドへの返信がお客様のLINEに届きます。「note:」で始まる返信はSlack内のメモです。"}]})
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": CLOSE_ACTION_ID, "value": str(handoff_id), "style": "primary",
            "text": {"type": "plain_text", "text": "対応完了"}}]})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text":
                       f":white_check_mark: 対応完了: {_closed_by(closed)}（{when(closed['closed_at'])}）"}})
    return blocks


def _closed_by(closed: dict[str, Any]) -> str:
    by = closed.get("closed_by") or ""
    if by != handoff_flow.CLOSED_BY_CUSTOMER:
        return _escape(by)
    return "お客様（公式アカウントをブロック）" if closed.get("blocked") else "お客様（自動応答に戻りました）"


def _opened_payload(handoff: Handoff) -> dict[str, Any]:
    with current_app.extensions["db"].begin() as session:
        payload = session.scalar(select(HandoffMessage.payload).where(HandoffMessage.handoff_id == handoff.id,
                                                                      HandoffMessage.kind == "opened"))
    return json.loads(payload) if payload else {"opened_at": handoff.opened_at.isoformat()}


# -- the outbox drain --------------------------------------------------------------------------
def post_to_slack(handoff: Handoff, message: HandoffMessage, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Send one outbox row to Slack; the escalation's channel and ts are returned to be stored."""
    client = web_client()
    channel = handoff.staff_channel or current_app.config["SLACK_CHANNEL_ID"]
    if message.kind == "opened":
        name = line_display_name(handoff.line_user_id)
        # ``text`` carries the facts too: it is what notifications and clients without blocks show.
        answer = client.chat_postMessage(channel=channel, text=escalation_summary(payload, name),
                                         blocks=escalation_blocks(handoff.id, payload, name), unfurl_links=False)
        return {"staff_thread_ts": answer["ts"], "staff_channel": answer.get("channel") or channel}
    thread = handoff.staff_thread_ts
    if not thread:  # the escalation was never posted (cannot happen: it is always the first row)
        raise RuntimeError("handoff has no Slack thread yet")
    if message.kind == "customer":
        client.chat_postMessage(channel=channel, thread_ts=thread, text="お客様: " + _escape(payload["text"]),
                                unfurl_links=False, unfurl_media=False)
    elif message.kind == "notice":
        client.chat_postMessage(channel=channel, thread_ts=thread, text=(
            f"（自動）{no_reply_minutes()}分以内に担当者の返信がなかったため、お客様に電話窓口をご案内しました。"))
    elif message.kind == handoffs.AFTER_HOURS:
        client.chat_postMessage(channel=channel, thread_ts=thread, text=(
            f"（自動）受付時間外のため、お客様に{when(payload['next_opening'])}以降にご返信するとご案内しました。"))
    elif message.kind == "closed":
        opened = _opened_payload(handoff)
        name = line_display_name(handoff.line_user_id)
        closed_line = f"対応完了: {_closed_by(payload)}（{when(payload['closed_at'])}）"
        client.chat_update(channel=channel, ts=thread, text=escalation_summary(opened, name) + "\n" + closed_line,
                           blocks=escalation_blocks(handoff.id, opened, name, closed=payload))
        client.chat_postMessage(channel=channel, thread_ts=thread,
                                text=f"対応完了: {_closed_by(payload)}（{when(payload['closed_at'])}）。"
                                     "このお客様には自動応答が答えます。")
    return None


def slack_outbox_job(handoff_id: int) -> None:
    """Post everything pending for this handoff to Slack, in order (retried by RQ on failure)."""
    handoffs.drain(current_app.extensions["db"].sessions, current_app.extensions["redis"], handoff_id,
                   post_to_slack, clock.now)


def unseen_outbox_job(handoff_id: int) -> None:
    """No staff channel is configured: mark the rows handled so they do not pile up (said loudly)."""
    log.warning("handoff %s: no staff channel configured (Slack unset, emulator off)", handoff_id)
    handoffs.drain(current_app.extensions["db"].sessions, current_app.extensions["redis"], handoff_id,
                   lambda *_args: None, clock.now)


# -- staff replies and 対応完了 ------------------------------------------------------------------
def slack_text(text: str) -> str:
    """Slack's message text as plain text: links to their labels, entities decoded."""
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(3) or "", text)
    return html.unescape(text).strip()


def slack_event_job(event: dict, team_id: str | None = None) -> None:
    """A message in the escalation channel: a person's reply in a handoff's thread goes to the customer."""
    config = current_app.config
    if event.get("type") != "message" or event.get("channel") != config.get("SLACK_CHANNEL_ID"):
        return
    # Edits, deletions, joins, bot posts (ours included): none is a person answering. A reply also
    # sent to the channel (thread_broadcast) or with a file attached (file_share: its text only) is.
    if event.get("subtype") not in (None, *HUMAN_SUBTYPES) or event.get("bot_id") or not event.get("user"):
        return
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return
    identity = bot_identity()
    if (team_id and identity.team_id and team_id != identity.team_id) or event.get("user") == identity.user_id:
        return
    text = slack_text(event.get("text") or "")
    if not text or handoff_flow.is_staff_note(text):
        return
    with current_app.extensions["db"].begin() as session:
        handoff = handoffs.find_by_thread(session, thread_ts)
        if handoff is None:
            return
        handoff = handoffs.get(session, handoff.id, lock=True)
        replies = handoff_flow.staff_reply(handoff, text, clock.now())
        line_user_id = handoff.line_user_id
    if replies:
        jobs.perform(PushReplies(line_user_id, tuple(replies)))


def slack_close_job(handoff_id: str, message_ts: str, channel: str, team_id: str | None, staff_id: str,
                    staff_name: str) -> None:
    """「対応完了」: end the handoff, tell the customer, show staff who closed it and when."""
    config = current_app.config
    if channel != config.get("SLACK_CHANNEL_ID"):
        return
    identity = bot_identity()
    if team_id and identity.team_id and team_id != identity.team_id:
        return
    with current_app.extensions["db"].begin() as session:
        # The button carries the handoff's id; the message it sits on must be that handoff's.
        found = handoffs.get(session, int(handoff_id)) if handoff_id.isdigit() else None
        if found is None and message_ts:
            found = handoffs.find_by_thread(session, message_ts)
        if found is None or (message_ts and found.staff_thread_ts != message_ts):
            return
        handoff = handoffs.get(session, found.id, lock=True)
        replies = handoff_flow.close_by_staff(session, handoff, staff_name, clock.now())
        line_user_id, closed_id = handoff.line_user_id, handoff.id
    if replies:
        log.info("handoff %s closed in Slack", closed_id)
        jobs.perform(PushReplies(line_user_id, tuple(replies)))
        jobs.perform(StaffOutbox(closed_id))


# -- the no-reply timer ------------------------------------------------------------------------
def handoff_timer_job(handoff_id: int) -> None:
    """Schedule the no-reply check: ``HANDOFF_NO_REPLY_MINUTES`` from now, or from the next opening."""
    config = current_app.config
    delay = handoff_flow.no_reply_delay_seconds(config["SUPPORT_HOURS"], no_reply_minutes(), clock.now(),
                                                config["SUPPORT_CLOSED_DAYS"])
    jobs.enqueue_in(delay, no_reply_job, handoff_id=handoff_id)


def no_reply_job(handoff_id: int) -> None:
    """Nobody answered in time: the customer is told and offered the phone (once), staff see it."""
    with current_app.extensions["db"].begin() as session:
        handoff = handoffs.get(session, handoff_id, lock=True)
        if handoff is None:
            return
        replies = handoff_flow.no_reply_notice(session, handoff, current_app.config["SUPPORT_HOURS"], clock.now())
        line_user_id = handoff.line_user_id
    if replies:
        jobs.perform(PushReplies(line_user_id, tuple(replies)))
        jobs.perform(StaffOutbox(handoff_id))
