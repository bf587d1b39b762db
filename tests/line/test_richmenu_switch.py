"""A customer's rich menu follows their link at once: 本登録, account link, 連携解除, following again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.menus import LINKED, NEWCOMER
from storage.models import RichMenu
from tests.bot.test_account_link import account_link_event, login_link_from_chat, nonce_from_redirect
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    confirm_move,
    login,
    seed_customer_with_account,
    seed_link,
    seed_statement,
)
from tests.helpers_registration import link_path, post_password, provisional, seed_customer
from tests.line_driver import drain_jobs
from tests.servers import Mailbox


def synced(app, runner) -> dict[str, str]:
    result = runner.invoke(args=["richmenu", "sync"])
    assert result.exit_code == 0, result.output
    with app.extensions["db"].begin() as db:
        return {m.kind: m.rich_menu_id for m in db.scalars(select(RichMenu))}


def shown(line_api, user) -> str | None:
    """The menu the LINE app would show this user (their own, else the default)."""
    return line_api.rich_menus.menu_for(user.user_id)


def test_before_any_sync_the_switch_does_nothing(app, line_api, line_user):
    line_user.follow()
    drain_jobs(app)
    assert [c for c in line_api.calls if c.kind.startswith("richmenu")] == []


def test_registration_completed_on_the_web_switches_to_the_linked_menu(app, runner, client, line_api, line_user,
                                                                        mailbox):
    menus = synced(app, runner)
    line_user.follow()
    drain_jobs(app)
    assert shown(line_api, line_user) == menus[NEWCOMER]
    seed_customer(app)
    provisional(line_user)
    drain_jobs(app)
    path = link_path(Mailbox.body(mailbox.wait(1)[0]))
    response = post_password(client, path)
    assert response.status_code == 200
    drain_jobs(app)
    assert shown(line_api, line_user) == menus[LINKED]
    assert line_api.accepted("richmenu_link", line_user.user_id)


def test_account_link_and_unlink_switch_the_menu(app, runner, client, line_api, line_user):
    seeded = seed_customer_with_account(app)
    seed_statement(app, seeded.customer_id, date(2026, 11, 1), [("基本料金", 5280)])
    menus = synced(app, runner)
    start = login_link_from_chat(line_user)
    _token, nonce = nonce_from_redirect(login(client, "aicom_taro", link=start))
    assert "連携が完了しました" in account_link_event(line_user, nonce)[0]["text"]
    drain_jobs(app)
    assert shown(line_api, line_user) == menus[LINKED]

    line_user.say("連携解除")
    line_user.say("連携解除する")
    drain_jobs(app)
    assert shown(line_api, line_user) == menus[NEWCOMER]
    assert line_api.accepted("richmenu_unlink", line_user.user_id)


def test_linking_an_account_elsewhere_sends_its_old_line_user_back_to_the_newcomers_menu(
        app, runner, client, line_api, make_line_user):
    seeded = seed_customer_with_account(app)
    old, new = make_line_user(), make_line_user()
    seed_link(app, seeded.account_id, old.user_id)
    menus = synced(app, runner)
    assert shown(line_api, old) == menus[LINKED]
    start = login_link_from_chat(new)
    login(client, "aicom_taro", link=start)  # the account is linked to ``old``: the confirm step follows
    _token, nonce = nonce_from_redirect(confirm_move(client))
    account_link_event(new, nonce)
    drain_jobs(app)
    assert shown(line_api, new) == menus[LINKED]
    assert shown(line_api, old) == menus[NEWCOMER]


def test_following_again_restores_the_menu_that_fits(app, runner, line_api, make_line_user):
    seeded = seed_customer_with_account(app)
    customer = make_line_user()
    seed_link(app, seeded.account_id, customer.user_id)
    menus = synced(app, runner)
    line_api.rich_menus.users.pop(customer.user_id)  # e.g. a menu switch lost while LINE was down
    customer.follow()
    drain_jobs(app)
    assert shown(line_api, customer) == menus[LINKED]
    newcomer = make_line_user()
    newcomer.follow()
    drain_jobs(app)
    assert shown(line_api, newcomer) == menus[NEWCOMER]


def test_the_job_follows_the_database_not_the_effect(app, runner, line_api, line_user):
    """Jobs that run late or out of order still leave the menu the link says."""
    from handlers.line.richmenu import switch_menu_job

    menus = synced(app, runner)
    with app.app_context():
        switch_menu_job(user_id=line_user.user_id, linked=True)  # not linked in the database
    assert shown(line_api, line_user) == menus[NEWCOMER]


def test_menu_taps_mid_registration_are_not_answers(app, line_user):
    """A tap on the rich menu while the bot asks for a nickname is not taken as the nickname."""
    from bot import messages
    from tests.helpers_registration import verify

    seed_customer(app)
    verify(line_user)
    line_user.say("aicom_taro")
    line_user.say("taro@example.jp")
    replies = line_user.say("よくある質問")
    assert replies[0]["text"] == messages.REGISTER_IN_PROGRESS
