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
    every 仮登録 mail (first or resent) is capped per LINE user and per customer (10 a day)
    at any step: 登録 / 最初からやり直す start again; ヘルプ, メニュー and the operator words leave
    the flow (the engine); a rich-menu tap is not an answer (REGISTER_IN_PROGRESS)

Limits live in Redis (``storage.limits``), shared by every worker; when they cannot be read the
bot refuses rather than allows. A success does not wipe the LINE user's mismatch count: otherwise
one customer's own details would buy unlimited guesses at other numbers. The conversation never
holds the customer number or the phone number: each answer is checked as it arrives and only its
outcome is kept (the number's counter identity, the customer's row id, whether the phone matched);
all three items are asked and the verdict is given once, at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from bot import menus, messages, validators
from bot.engine import Entry, Flow, StateSpec, Step, Turn, words
from bot.errors import InvalidInput
from bot.normalize import command_text, kana_name
from bot.states import State
from bot.types import AccountLinkPrompt, EventKind, LinkButton, QuickReply, SendMail
from bot.understanding import intents
from storage import accounts, repositories
from storage.limits import Limits
from storage.models import Account, Customer
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)

START_WORDS = ("登録", "会員登録", "マイページ登録", messages.QR_RESTART)
_RESTART_KEYS = frozenset(command_text(w) for w in START_WORDS)
# Help, a person or a rich-menu tap (bot.menus) mid-flow is never an answer (at the name step a katakana
# ヘルプ would be counted as a mismatch): the engine takes the first two out of the flow; taps are answered here.
HELP_WORDS = ("ヘルプ", "メニュー", "オペレーター", "問い合わせ", messages.QR_HELP, messages.QR_OPERATOR,
              *(word for word in menus.tap_words() if command_text(word) not in _RESTART_KEYS))
_HELP_KEYS = frozenset(command_text(w) for w in HELP_WORDS)

# Mismatch limits (INTERFACES.md): per LINE user, and per customer number across users.
USER_MISMATCH = "register_mismatch_user"
USER_WINDOW_SECONDS, USER_LIMIT, USER_BLOCK_SECONDS = 15 * 60, 5, 30 * 60
NUMBER_MISMATCH = "register_mismatch_number"
NUMBER_WINDOW_SECONDS, NUMBER_LIMIT, NUMBER_BLOCK_SECONDS = 24 * 3600, 10, 24 * 3600
# Resending the 仮登録 mail.
RESEND = "register_resend"
RESEND_WINDOW_SECONDS, RESEND_LIMIT = 3600, 3
# Every 仮登録 mail, per LINE user and per customer: the bot must not mail any address without end.
MAIL_USER = "register_mail_user"
MAIL_CUSTOMER = "register_mail_customer"
MAIL_WINDOW_SECONDS, MAIL_LIMIT = 24 * 3600, 10
# Whether an account ID is free says whether someone uses it: a verified customer may ask, not probe.
ID_CHECK = "register_id_check"
ID_CHECK_WINDOW_SECONDS, ID_CHECK_LIMIT = 3600, 20

CANCEL = QuickReply(messages.QR_CANCEL, messages.QR_CANCEL)
OPERATOR = QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)
AFTER_PROVISIONAL = (QuickReply(messages.QR_RESEND, messages.QR_RESEND),
                     QuickReply(messages.QR_RESTART, messages.QR_RESTART))
FIX_CHOICES = {
    command_text(messages.QR_FIX_ACCOUNT_ID): State.REGISTER_ACCOUNT_ID,
    command_text(messages.QR_FIX_EMAIL): State.REGISTER_EMAIL,
    command_text(messages.QR_FIX_NICKNAME): State.REGISTER_NICKNAME,
}


def number_ident(customer_number: str, secret: str) -> str:
    """The per-number counter's identity: a keyed hash (HMAC), so Redis key names neither list
    customer numbers nor let anyone recover an 8-digit number by trying them all."""
    return hmac.new(secret.encode(), f"customer:{customer_number}".encode(), hashlib.sha256).hexdigest()[:32]


def _mail_allowed(turn: Turn, customer_id: int) -> bool:
    """True when one more 仮登録 mail is within the caps; raises ``StateUnavailable`` (callers refuse)."""
    limits = _limits(turn)
    return (limits.count(MAIL_USER, turn.user_id, MAIL_WINDOW_SECONDS) < MAIL_LIMIT
            and limits.count(MAIL_CUSTOMER, str(customer_id), MAIL_WINDOW_SECONDS) < MAIL_LIMIT)


def _count_mail(turn: Turn, customer_id: int) -> None:
    limits = _limits(turn)
    limits.count_hit(MAIL_USER, turn.user_id, MAIL_WINDOW_SECONDS)
    limits.count_hit(MAIL_CUSTOMER, str(customer_id), MAIL_WINDOW_SECONDS)


def _limits(turn: Turn) -> Limits:
    if turn.limits is None:  # an engine without limits cannot count; refuse like Redis being down
        raise StateUnavailable("no limits")
    return turn.limits


# -- entry points ------------------------------------------------------------------------------
def start(turn: Turn, _match=None) -> str | None:
    """`登録`: refuse when already linked or blocked; otherwise ask for the customer number."""
    if repositories.find_line_link(turn.db, turn.user_id) is not None:
        turn.say(messages.ALREADY_LINKED, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH)])
        return None
    try:
        blocked = _limits(turn).blocked_for(USER_MISMATCH, turn.user_id)
    except StateUnavailable:
        turn.say(messages.VERIFY_UNAVAILABLE, [OPERATOR])
        return None
    if blocked:
        turn.say(messages.VERIFY_LIMITED_USER, [OPERATOR])
        return None
    turn.data.clear()
    turn.signal("registration_started")
    turn.say(messages.REGISTER_START, [CANCEL])
    return State.REGISTER_CUSTOMER_NUMBER


def resend(turn: Turn, _match=None) -> None:
    """`メールを再送`: a new 本登録 link for this LINE user's pending registration (the old link dies)."""
    account = accounts.pending_registration(turn.db, turn.user_id, turn.now)
    if account is None:
        turn.say(messages.NOTHING_TO_RESEND, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER)])
        return None
    try:
        limits = _limits(turn)
        if limits.count(RESEND, turn.user_id, RESEND_WINDOW_SECONDS) >= RESEND_LIMIT:
            turn.say(messages.RESEND_LIMITED, [*AFTER_PROVISIONAL, OPERATOR])
            return None
        if not _mail_allowed(turn, account.customer_id):
            turn.say(messages.REGISTER_MAIL_LIMITED)
            return None
        limits.count_hit(RESEND, turn.user_id, RESEND_WINDOW_SECONDS)
        _count_mail(turn, account.customer_id)
    except StateUnavailable:
        turn.say(messages.BUSY_RETRY)
        return None
    token = accounts.reissue_register_token(turn.db, account, turn.now, turn.settings.registration_ttl_seconds)
    _send_mail(turn, account, token)
    turn.say(messages.MAIL_RESENT.format(email=account.email, valid_for=_valid_for(turn)), AFTER_PROVISIONAL)
    return None


# -- verification ------------------------------------------------------------------------------
def _or_restart(step: Step, state: State) -> Step:
    """`登録` / `最初からやり直す` at any step starts again; a menu tap or a postback (machine data from a
    menu or an old button; every answer here is typed or sent by a quick reply) re-asks the question."""
    def guarded(turn: Turn) -> str | None:
        key = command_text(turn.text)
        if key in _RESTART_KEYS:
            return start(turn)
        if key in _HELP_KEYS or kana_name(key) in _HELP_KEYS or turn.incoming.kind == EventKind.POSTBACK:
            turn.say(messages.REGISTER_IN_PROGRESS)
            PROMPTS[state](turn)
            return state
        return step(turn)
    guarded.__doc__ = step.__doc__
    return guarded


def _answer(turn: Turn, validator):
    """The answer converted by ``validator``, or None after saying what is wrong (the step re-asks)."""
    try:
        return validator(turn.text)
    except InvalidInput as exc:
        turn.say(exc.message, [CANCEL])
        return None


def step_customer_number(turn: Turn) -> str | None:
    """お客様番号 -> ask for the phone number (only the number's outcome is kept, never the number)."""
    number = _answer(turn, validators.customer_number)
    if number is None:
        return State.REGISTER_CUSTOMER_NUMBER
    customer = repositories.find_customer(turn.db, number)
    turn.data["number_ident"] = number_ident(number, turn.settings.secret)
    turn.data["candidate_id"] = customer.id if customer is not None else None
    turn.say(messages.THANKS + messages.ASK_PHONE, [CANCEL])
    return State.REGISTER_PHONE


def _candidate(turn: Turn) -> Customer | None:
    return turn.db.get(Customer, turn.data["candidate_id"]) if turn.data.get("candidate_id") is not None else None


def step_phone(turn: Turn) -> str | None:
    """電話番号 -> ask for the kana name (whether it matched is kept, not the number; nothing is said yet)."""
    phone = _answer(turn, validators.phone)
    if phone is None:
        return State.REGISTER_PHONE
    customer = _candidate(turn)
    turn.data["phone_ok"] = customer is not None and customer.phone == phone
    turn.say(messages.ASK_NAME_KANA, [CANCEL])
    return State.REGISTER_NAME_KANA


def step_name_kana(turn: Turn) -> str | None:
    """お名前（カナ） -> the verdict on all three together."""
    name_kana = _answer(turn, validators.kana_name)
    if name_kana is None:
        return State.REGISTER_NAME_KANA
    if "number_ident" not in turn.data:  # a conversation from an older release: start again, count nothing
        return start(turn)
    return _verify(turn, name_kana)


def _same_name(typed: str, registered: str) -> bool:
    """Kana names compare canonically; the space between family and given name may be left out."""
    return typed.replace("\u3000", "") == kana_name(registered).replace("\u3000", "")


def _verify(turn: Turn, name_kana: str) -> str | None:
    """All three items against the customer record, under the mismatch limits."""
    ident = turn.data["number_ident"]
    customer = _candidate(turn)
    phone_ok = bool(turn.data.get("phone_ok"))
    turn.data.clear()
    try:
        limits = _limits(turn)
        if limits.blocked_for(USER_MISMATCH, turn.user_id):
            turn.say(messages.VERIFY_LIMITED_USER, [OPERATOR])
            return None
        if limits.blocked_for(NUMBER_MISMATCH, ident):
            turn.say(messages.VERIFY_LIMITED_NUMBER, [OPERATOR])
            return None
    except StateUnavailable:
        log.warning("mismatch counters unreadable; verification refused")
        turn.say(messages.VERIFY_UNAVAILABLE, [OPERATOR])
        return None

    if customer is None or not phone_ok or not _same_name(name_kana, customer.name_kana):
        return _mismatch(turn, limits, ident)

    # The LINE user's mismatch count is deliberately NOT reset here (see the module docstring).
    account = accounts.account_for_customer(turn.db, customer.id)
    if account is not None and account.status == accounts.ACTIVE:
        _already_registered(turn)
        return None
    log.info("customer number #%s verified in the chat", ident[:8])
    turn.data["customer_id"] = customer.id
    turn.say(messages.VERIFIED, [CANCEL])
    return State.REGISTER_ACCOUNT_ID


def _mismatch(turn: Turn, limits: Limits, ident: str) -> str | None:
    """Count the failure for the user and the number; block either when its limit is reached."""
    log.info("verification mismatch for customer number #%s", ident[:8])
    turn.signal("verification_failed")
    try:
        user_hits = limits.count_hit(USER_MISMATCH, turn.user_id, USER_WINDOW_SECONDS)
        number_hits = limits.count_hit(NUMBER_MISMATCH, ident, NUMBER_WINDOW_SECONDS)
        if number_hits >= NUMBER_LIMIT:
            limits.block(NUMBER_MISMATCH, ident, NUMBER_BLOCK_SECONDS)
            turn.signal("lockout_number")
        if user_hits >= USER_LIMIT:
            limits.block(USER_MISMATCH, turn.user_id, USER_BLOCK_SECONDS)
            turn.signal("lockout_user")
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
    login_id = _answer(turn, validators.account_id)
    if login_id is None:
        return State.REGISTER_ACCOUNT_ID
    try:  # counted first, atomically: parallel checks cannot slip past the limit
        checks = _limits(turn).count_hit(ID_CHECK, turn.user_id, ID_CHECK_WINDOW_SECONDS)
    except StateUnavailable:
        turn.say(messages.VERIFY_UNAVAILABLE, [OPERATOR])
        return State.REGISTER_ACCOUNT_ID
    if checks > ID_CHECK_LIMIT:
        turn.signal("registration_id_checks_limited")
        turn.say(messages.ACCOUNT_ID_CHECKS_LIMITED, [CANCEL])  # the message gives the phone
        return State.REGISTER_ACCOUNT_ID
    if not accounts.login_id_available(turn.db, login_id, turn.data["customer_id"], turn.now):
        turn.say(messages.ACCOUNT_ID_TAKEN, [CANCEL])
        return State.REGISTER_ACCOUNT_ID
    turn.data["login_id"] = login_id
    return _after_item(turn, State.REGISTER_EMAIL, messages.ASK_EMAIL)


def step_email(turn: Turn) -> str | None:
    """メールアドレス: syntax only, no DNS."""
    email = _answer(turn, validators.email)
    if email is None:
        return State.REGISTER_EMAIL
    turn.data["email"] = email
    return _after_item(turn, State.REGISTER_NICKNAME, messages.ASK_NICKNAME)


def step_nickname(turn: Turn) -> str | None:
    """ニックネーム -> the confirmation."""
    nickname = _answer(turn, validators.nickname)
    if nickname is None:
        return State.REGISTER_NICKNAME
    turn.data["nickname"] = nickname
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
        if not _mail_allowed(turn, turn.data["customer_id"]):
            turn.say(messages.REGISTER_MAIL_LIMITED)
            return State.REGISTER_CONFIRM
    except StateUnavailable:
        turn.say(messages.BUSY_RETRY)
        return State.REGISTER_CONFIRM
    try:
        account, token = accounts.create_provisional(
            turn.db, customer_id=turn.data["customer_id"], login_id=turn.data["login_id"],
            email=turn.data["email"], nickname=turn.data["nickname"], line_user_id=turn.user_id,
            now=turn.now, ttl_seconds=turn.settings.registration_ttl_seconds)
    except accounts.AlreadyRegistered:
        _already_registered(turn)
        return None
    except accounts.CustomerGone:
        # The record was removed since verification: verify again (not counted as a mismatch).
        turn.data.clear()
        turn.say(messages.REGISTER_CUSTOMER_GONE, [CANCEL])
        return State.REGISTER_CUSTOMER_NUMBER
    except accounts.LoginIdTaken:
        turn.data.pop("login_id", None)
        turn.data["fixing"] = True
        turn.say(messages.ACCOUNT_ID_TAKEN_JUST_NOW, [CANCEL])
        return State.REGISTER_ACCOUNT_ID
    try:
        _count_mail(turn, account.customer_id)
    except StateUnavailable:
        log.warning("could not count a registration mail")  # the check just before read the counters
    _send_mail(turn, account, token)
    turn.signal("registration_provisional")
    turn.say(messages.PROVISIONAL_DONE.format(email=account.email, valid_for=_valid_for(turn)), AFTER_PROVISIONAL)
    return None


def _valid_for(turn: Turn) -> str:
    return messages.valid_for_label(turn.settings.registration_ttl_seconds)


def _send_mail(turn: Turn, account: Account, token: str) -> None:
    body = messages.REGISTRATION_MAIL_BODY.format(
        name=accounts.contract_name(account), received_at=messages.datetime_label(turn.now),
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
        Entry(words(*START_WORDS), start, intent=intents.REGISTER),
        Entry(words(messages.QR_RESEND), resend),
    ),
    states={state: StateSpec(_or_restart(step, state), PROMPTS[state]) for state, step in (
        (State.REGISTER_CUSTOMER_NUMBER, step_customer_number),
        (State.REGISTER_PHONE, step_phone),
        (State.REGISTER_NAME_KANA, step_name_kana),
        (State.REGISTER_ACCOUNT_ID, step_account_id),
        (State.REGISTER_EMAIL, step_email),
        (State.REGISTER_NICKNAME, step_nickname),
        (State.REGISTER_CONFIRM, step_confirm),
        (State.REGISTER_CHOOSE_FIX, step_choose_fix),
    )},
)
