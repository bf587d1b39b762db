"""Registration in the chat: verification, the account's details, confirmation, 仮登録 and its mail.

Replaces the printed guide's web steps 認証情報 → 初期情報 → 確認 → 仮登録; the 本登録
(setting the password) happens on the web page the mail links to, never in the chat.

    登録 / 会員登録 / マイページ登録 / 最初からやり直す
      -> customer_number -> phone -> name_kana -> (all three checked together)
           mismatch: the fixed sentence, back to customer_number; limits per LINE user and per number
           customer already active: told so, reminder + login links; flow ends
      -> account_id (checked for availability at once) -> email -> nickname
      -> confirm: 仮登録する | 修正する -> choose_fix -> that item -> confirm | キャンセル (engine)
    仮登録する -> provisional account + hashed token in one transaction, SendMail effect; flow ends
    メールを再送 -> a new token (the old one dies), the mail again; rate-limited

Limits live in Redis (``StateStore`` counters and blocks), so they survive restarts and are
shared by every worker. When they cannot be read the bot refuses rather than allows.
"""

from __future__ import annotations

import hashlib
import logging

from bot import messages, validators
from bot.engine import Entry, Flow, StateSpec, Turn, words
from bot.errors import InvalidInput
from bot.normalize import command_text, kana_name, mask_customer_number
from bot.states import State
from bot.types import AccountLinkPrompt, LinkButton, QuickReply, SendMail
from storage import accounts, repositories
from storage.models import Account
from storage.state import StateStore, StateUnavailable

log = logging.getLogger(__name__)

START_WORDS = ("登録", "会員登録", "マイページ登録", messages.QR_RESTART)
_RESTART_KEYS = frozenset(command_text(w) for w in START_WORDS)

# Mismatch limits (INTERFACES.md): per LINE user, and per customer number across users.
USER_MISMATCH = "register_mismatch_user"
USER_WINDOW_SECONDS, USER_LIMIT, USER_BLOCK_SECONDS = 15 * 60, 5, 30 * 60
NUMBER_MISMATCH = "register_mismatch_number"
NUMBER_WINDOW_SECONDS, NUMBER_LIMIT, NUMBER_BLOCK_SECONDS = 24 * 3600, 10, 24 * 3600
# Resending the 仮登録 mail.
RESEND = "register_resend"
RESEND_WINDOW_SECONDS, RESEND_LIMIT = 3600, 3

CANCEL = QuickReply(messages.QR_CANCEL, messages.QR_CANCEL)
OPERATOR = QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)
AFTER_PROVISIONAL = (QuickReply(messages.QR_RESEND, messages.QR_RESEND),
                     QuickReply(messages.QR_RESTART, messages.QR_RESTART))
FIX_CHOICES = {
    command_text(messages.QR_FIX_ACCOUNT_ID): State.REGISTER_ACCOUNT_ID,
    command_text(messages.QR_FIX_EMAIL): State.REGISTER_EMAIL,
    command_text(messages.QR_FIX_NICKNAME): State.REGISTER_NICKNAME,
}


def number_ident(customer_number: str) -> str:
    """The per-number counter's identity: a hash, so Redis key names do not list customer numbers."""
    return hashlib.sha256(f"customer:{customer_number}".encode()).hexdigest()[:32]


def _store(turn: Turn) -> StateStore:
    if turn.store is None:  # an engine without a store cannot count; refuse like Redis being down
        raise StateUnavailable("no state store")
    return turn.store


# -- entry points ------------------------------------------------------------------------------
def start(turn: Turn, _match=None) -> str | None:
    """`登録`: refuse when already linked or blocked; otherwise ask for the customer number."""
    if repositories.find_line_link(turn.db, turn.user_id) is not None:
        turn.say(messages.ALREADY_LINKED, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH)])
        return None
    try:
        blocked = _store(turn).blocked_for(USER_MISMATCH, turn.user_id)
    except StateUnavailable:
        turn.say(messages.VERIFY_UNAVAILABLE, [OPERATOR])
        return None
    if blocked:
        turn.say(messages.VERIFY_LIMITED_USER, [OPERATOR])
        return None
    turn.data.clear()
    turn.say(messages.REGISTER_START, [CANCEL])
    return State.REGISTER_CUSTOMER_NUMBER


def resend(turn: Turn, _match=None) -> None:
    """`メールを再送`: a new 本登録 link for this LINE user's pending registration (the old link dies)."""
    account = accounts.pending_registration(turn.db, turn.user_id, turn.now)
    if account is None:
        turn.say(messages.NOTHING_TO_RESEND, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER)])
        return None
    try:
        store = _store(turn)
        if store.count(RESEND, turn.user_id, RESEND_WINDOW_SECONDS) >= RESEND_LIMIT:
            turn.say(messages.RESEND_LIMITED, [QuickReply(messages.QR_RESTART, messages.QR_RESTART)])
            return None
        store.count_hit(RESEND, turn.user_id, RESEND_WINDOW_SECONDS)
    except StateUnavailable:
        turn.say(messages.BUSY_RETRY)
        return None
    token = accounts.reissue_register_token(turn.db, account, turn.now, turn.settings.registration_ttl_seconds)
    _send_mail(turn, account, token)
    turn.say(messages.MAIL_RESENT.format(email=account.email, valid_for=_valid_for(turn)), AFTER_PROVISIONAL)
    return None


# -- verification ------------------------------------------------------------------------------
def _restarting(turn: Turn) -> bool:
    return command_text(turn.text) in _RESTART_KEYS


def step_customer_number(turn: Turn) -> str | None:
    """お客様番号 -> ask for the phone number."""
    if _restarting(turn):
        return start(turn)
    try:
        turn.data["customer_number"] = validators.customer_number(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return State.REGISTER_CUSTOMER_NUMBER
    turn.say(messages.THANKS + messages.ASK_PHONE, [CANCEL])
    return State.REGISTER_PHONE


def step_phone(turn: Turn) -> str | None:
    """電話番号 -> ask for the kana name."""
    if _restarting(turn):
        return start(turn)
    try:
        turn.data["phone"] = validators.phone(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return State.REGISTER_PHONE
    turn.say(messages.ASK_NAME_KANA, [CANCEL])
    return State.REGISTER_NAME_KANA


def step_name_kana(turn: Turn) -> str | None:
    """お名前（カナ） -> check all three together."""
    if _restarting(turn):
        return start(turn)
    try:
        name_kana = validators.kana_name(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return State.REGISTER_NAME_KANA
    return _verify(turn, turn.data.pop("customer_number"), turn.data.pop("phone"), name_kana)


def _same_name(typed: str, registered: str) -> bool:
    """Kana names compare canonically; the space between family and given name may be left out."""
    return typed.replace("\u3000", "") == kana_name(registered).replace("\u3000", "")


def _verify(turn: Turn, customer_number: str, phone: str, name_kana: str) -> str | None:
    """All three items against the customer record, under the mismatch limits."""
    turn.data.clear()  # personal details are not kept in the conversation
    try:
        store = _store(turn)
        if store.blocked_for(USER_MISMATCH, turn.user_id):
            turn.say(messages.VERIFY_LIMITED_USER, [OPERATOR])
            return None
        if store.blocked_for(NUMBER_MISMATCH, number_ident(customer_number)):
            turn.say(messages.VERIFY_LIMITED_NUMBER, [OPERATOR])
            return None
    except StateUnavailable:
        log.warning("mismatch counters unreadable; verification refused")
        turn.say(messages.VERIFY_UNAVAILABLE, [OPERATOR])
        return None

    customer = repositories.find_customer(turn.db, customer_number)
    if customer is None or customer.phone != phone or not _same_name(name_kana, customer.name_kana):
        return _mismatch(turn, store, customer_number)

    try:
        store.reset_count(USER_MISMATCH, turn.user_id)
    except StateUnavailable:
        log.warning("could not reset a mismatch counter")
    account = accounts.account_for_customer(turn.db, customer.id)
    if account is not None and account.status == accounts.ACTIVE:
        _already_registered(turn)
        return None
    log.info("customer %s verified in the chat", mask_customer_number(customer_number))
    turn.data["customer_id"] = customer.id
    turn.say(messages.VERIFIED, [CANCEL])
    return State.REGISTER_ACCOUNT_ID


def _mismatch(turn: Turn, store: StateStore, customer_number: str) -> str | None:
    """Count the failure for the user and the number; block either when its limit is reached."""
    log.info("verification mismatch for customer number %s", mask_customer_number(customer_number))
    try:
        user_hits = store.count_hit(USER_MISMATCH, turn.user_id, USER_WINDOW_SECONDS)
        number_hits = store.count_hit(NUMBER_MISMATCH, number_ident(customer_number), NUMBER_WINDOW_SECONDS)
        if number_hits >= NUMBER_LIMIT:
            store.block(NUMBER_MISMATCH, number_ident(customer_number), NUMBER_BLOCK_SECONDS)
        if user_hits >= USER_LIMIT:
            store.block(USER_MISMATCH, turn.user_id, USER_BLOCK_SECONDS)
    except StateUnavailable:
        log.warning("mismatch counters unwritable; verification refused")
        turn.say(messages.VERIFY_MISMATCH)
        turn.say(messages.VERIFY_UNAVAILABLE, [OPERATOR])
        return None
    turn.say(messages.VERIFY_MISMATCH)
    if user_hits >= USER_LIMIT:
        turn.say(messages.VERIFY_LIMITED_USER, [OPERATOR])
        return None
    if number_hits >= NUMBER_LIMIT:
        turn.say(messages.VERIFY_LIMITED_NUMBER, [OPERATOR])
        return None
    turn.say(messages.VERIFY_RETRY, [CANCEL])
    return State.REGISTER_CUSTOMER_NUMBER


def _already_registered(turn: Turn) -> None:
    turn.say(messages.ALREADY_REGISTERED, buttons=[LinkButton(messages.REMINDER_BUTTON, turn.url("/reminder"))])
    turn.reply(AccountLinkPrompt(messages.ALREADY_REGISTERED_LOGIN, messages.LOGIN_LINK_BUTTON))


# -- the account's details ---------------------------------------------------------------------
def _after_item(turn: Turn, next_state: State, prompt: str) -> str:
    """Go on to the next item, or straight back to the confirmation when correcting one."""
    if turn.data.get("fixing"):
        return _show_confirmation(turn)
    turn.say(prompt, [CANCEL])
    return next_state


def step_account_id(turn: Turn) -> str | None:
    """アカウントID: valid and free (ignoring case) at once, like the web form's ID-check button."""
    try:
        login_id = validators.account_id(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return State.REGISTER_ACCOUNT_ID
    if not accounts.login_id_available(turn.db, login_id, turn.data["customer_id"], turn.now):
        turn.say(messages.ACCOUNT_ID_TAKEN, [CANCEL])
        return State.REGISTER_ACCOUNT_ID
    turn.data["login_id"] = login_id
    return _after_item(turn, State.REGISTER_EMAIL, messages.ASK_EMAIL)


def step_email(turn: Turn) -> str | None:
    """メールアドレス: syntax only, no DNS."""
    try:
        turn.data["email"] = validators.email(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return State.REGISTER_EMAIL
    return _after_item(turn, State.REGISTER_NICKNAME, messages.ASK_NICKNAME)


def step_nickname(turn: Turn) -> str | None:
    """ニックネーム -> the confirmation."""
    try:
        turn.data["nickname"] = validators.nickname(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return State.REGISTER_NICKNAME
    return _show_confirmation(turn)


# -- confirmation ------------------------------------------------------------------------------
def _show_confirmation(turn: Turn) -> str:
    turn.data.pop("fixing", None)
    turn.say(messages.CONFIRM.format(account_id=turn.data["login_id"], email=turn.data["email"],
                                     nickname=turn.data["nickname"]),
             [QuickReply(messages.QR_PROVISIONAL, messages.QR_PROVISIONAL),
              QuickReply(messages.QR_FIX, messages.QR_FIX), CANCEL])
    return State.REGISTER_CONFIRM


def _fix_choices(turn: Turn, text: str) -> None:
    turn.say(text, [QuickReply(messages.QR_FIX_ACCOUNT_ID, messages.QR_FIX_ACCOUNT_ID),
                    QuickReply(messages.QR_FIX_EMAIL, messages.QR_FIX_EMAIL),
                    QuickReply(messages.QR_FIX_NICKNAME, messages.QR_FIX_NICKNAME), CANCEL])


def step_confirm(turn: Turn) -> str | None:
    """仮登録する, 修正する, or ask again (キャンセル is the engine's)."""
    key = command_text(turn.text)
    if key == command_text(messages.QR_PROVISIONAL):
        return _register(turn)
    if key == command_text(messages.QR_FIX):
        _fix_choices(turn, messages.CHOOSE_FIX)
        return State.REGISTER_CHOOSE_FIX
    if key in _RESTART_KEYS:
        return start(turn)
    turn.say(messages.CONFIRM_CHOOSE)
    return _show_confirmation(turn)


def step_choose_fix(turn: Turn) -> str | None:
    """Which item to correct; its answer returns to the confirmation."""
    state = FIX_CHOICES.get(command_text(turn.text))
    if state is None:
        _fix_choices(turn, messages.CHOOSE_FIX_AGAIN)
        return State.REGISTER_CHOOSE_FIX
    turn.data["fixing"] = True
    PROMPTS[state](turn)
    return state


def _register(turn: Turn) -> str | None:
    """仮登録: one transaction (the engine's); a lost race for the ID asks for another one."""
    try:
        account, token = accounts.create_provisional(
            turn.db, customer_id=turn.data["customer_id"], login_id=turn.data["login_id"],
            email=turn.data["email"], nickname=turn.data["nickname"], line_user_id=turn.user_id,
            now=turn.now, ttl_seconds=turn.settings.registration_ttl_seconds)
    except accounts.AlreadyRegistered:
        _already_registered(turn)
        return None
    except accounts.LoginIdTaken:
        turn.data.pop("login_id", None)
        turn.data["fixing"] = True
        turn.say(messages.ACCOUNT_ID_TAKEN_JUST_NOW, [CANCEL])
        return State.REGISTER_ACCOUNT_ID
    _send_mail(turn, account, token)
    turn.say(messages.PROVISIONAL_DONE.format(email=account.email, valid_for=_valid_for(turn)), AFTER_PROVISIONAL)
    return None


def _valid_for(turn: Turn) -> str:
    return messages.valid_for_label(turn.settings.registration_ttl_seconds)


def _send_mail(turn: Turn, account: Account, token: str) -> None:
    body = messages.REGISTRATION_MAIL_BODY.format(
        nickname=account.nickname, received_at=messages.datetime_label(turn.now),
        url=turn.url(f"/register/complete/{token}"), valid_for=_valid_for(turn))
    turn.effect(SendMail(account.email, messages.REGISTRATION_MAIL_SUBJECT, body))


# -- the table ---------------------------------------------------------------------------------
PROMPTS = {
    State.REGISTER_CUSTOMER_NUMBER: lambda turn: turn.say(messages.ASK_CUSTOMER_NUMBER, [CANCEL]),
    State.REGISTER_PHONE: lambda turn: turn.say(messages.ASK_PHONE, [CANCEL]),
    State.REGISTER_NAME_KANA: lambda turn: turn.say(messages.ASK_NAME_KANA, [CANCEL]),
    State.REGISTER_ACCOUNT_ID: lambda turn: turn.say(messages.ASK_ACCOUNT_ID, [CANCEL]),
    State.REGISTER_EMAIL: lambda turn: turn.say(messages.ASK_EMAIL, [CANCEL]),
    State.REGISTER_NICKNAME: lambda turn: turn.say(messages.ASK_NICKNAME, [CANCEL]),
    State.REGISTER_CONFIRM: _show_confirmation,
    State.REGISTER_CHOOSE_FIX: lambda turn: _fix_choices(turn, messages.CHOOSE_FIX),
}

FLOW = Flow(
    name="registration",
    entries=(
        Entry(words(*START_WORDS), start),
        Entry(words(messages.QR_RESEND), resend),
    ),
    states={
        State.REGISTER_CUSTOMER_NUMBER: StateSpec(step_customer_number, PROMPTS[State.REGISTER_CUSTOMER_NUMBER]),
        State.REGISTER_PHONE: StateSpec(step_phone, PROMPTS[State.REGISTER_PHONE]),
        State.REGISTER_NAME_KANA: StateSpec(step_name_kana, PROMPTS[State.REGISTER_NAME_KANA]),
        State.REGISTER_ACCOUNT_ID: StateSpec(step_account_id, PROMPTS[State.REGISTER_ACCOUNT_ID]),
        State.REGISTER_EMAIL: StateSpec(step_email, PROMPTS[State.REGISTER_EMAIL]),
        State.REGISTER_NICKNAME: StateSpec(step_nickname, PROMPTS[State.REGISTER_NICKNAME]),
        State.REGISTER_CONFIRM: StateSpec(step_confirm, PROMPTS[State.REGISTER_CONFIRM]),
        State.REGISTER_CHOOSE_FIX: StateSpec(step_choose_fix, PROMPTS[State.REGISTER_CHOOSE_FIX]),
    },
)
