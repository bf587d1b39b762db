"""Web security across every page (issue 14), adding to what test_mypage/test_reminder/test_register_page check.

- Security headers on every page and every answer (200, 302, 400, 404, 405, 503).
- Every POST form of the site refuses a missing and a tampered CSRF token.
- No open redirect through ``next=`` (scheme-relative, backslash, encoded, absolute).
- The 本登録 page answers 503 in Japanese when the database is down (it gave a plain 500).
- The reminder answers the same for a known and an unknown account and address, in time too.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest

from tests.helpers_billing import PASSWORD, login, seed_customer_with_account

PAGES = ["/", "/login", "/reminder", "/reminder/account-id", "/reminder/password", "/reminder/password/reset?t=x",
         "/mypage", "/mypage/bills", "/mypage/bills/1", "/mypage/withdraw", "/register/complete/" + "a" * 43,
         "/nowhere", "/healthz", "/static/style.css"]
POST_FORMS = ["/login", "/logout", "/reminder/account-id", "/reminder/password", "/reminder/password/reset",
              "/mypage/withdraw", "/register/complete/" + "a" * 43]
HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def _check_headers(response, path: str) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert "default-src" in response.headers.get("Content-Security-Policy", ""), path
    if not path.startswith("/static/"):
        assert response.headers.get("Cache-Control") == "no-store", path


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_the_security_headers_logged_out(client, path):
    _check_headers(client.get(path), path)


def test_every_page_carries_the_security_headers_logged_in_and_on_errors(app, client):
    taro = seed_customer_with_account(app)
    login(client, taro.login_id)
    for path in PAGES:
        _check_headers(client.get(path), path)
    for path in POST_FORMS:
        _check_headers(client.post(path, data={}), path)  # 400 (no CSRF token)
    _check_headers(client.put("/login"), "/login")  # 405


def test_https_pages_add_hsts_and_secure_cookies(make_app):
    secure = make_app(PUBLIC_BASE_URL="https://mypage.aicom-koka.jp")
    client = secure.test_client()
    response = client.get("/login", base_url="https://mypage.aicom-koka.jp")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie or "SameSite=Strict" in cookie


@pytest.mark.parametrize("path", POST_FORMS)
def test_every_form_refuses_a_missing_or_tampered_csrf_token(app, client, path):
    taro = seed_customer_with_account(app)
    login(client, taro.login_id)
    assert client.post(path, data={}).status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    forged = (token.group(1)[:-4] + "AAAA") if token else "forged"
    assert client.post(path, data={"csrf_token": forged}).status_code == 400
    assert client.get("/mypage").status_code in (200, 302)  # still logged in: nothing happened


@pytest.mark.parametrize("next_path", ["//evil.example/", "/\\evil.example", "https://evil.example/",
                                       "%2F%2Fevil.example", "/%2F%2Fevil.example", "javascript:alert(1)",
                                       "\\\\evil.example", " //evil.example", "/\t/evil.example"])
def test_no_open_redirect_through_next(app, client, next_path):
    taro = seed_customer_with_account(app)
    response = login(client, taro.login_id, PASSWORD, next_path=next_path)
    location = response.headers.get("Location", "")
    assert response.status_code in (302, 303)
    path = location.removeprefix("http://localhost")
    assert re.match(r"^/(?![/\\])[^\s\\]*$", path), location  # a path of this site ("/%2F%2F..." stays here)


def test_the_registration_page_is_a_japanese_503_when_the_database_is_down(make_app):
    broken = make_app(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    broken.config["PROPAGATE_EXCEPTIONS"] = False
    response = broken.test_client().get("/register/complete/" + "a" * 43)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html and "OperationalError" not in html and "nowhere" not in html


def test_the_password_reminder_answers_alike_for_known_and_unknown_accounts_in_content_and_time(app, client):
    taro = seed_customer_with_account(app)
    page = client.get("/reminder/password").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def answer(account: str) -> tuple[str, float]:
        started = time.perf_counter()
        response = client.post("/reminder/password", data={"csrf_token": token, "account": account,
                                                           "account_id": account})
        elapsed = time.perf_counter() - started
        body = re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))
        return f"{response.status_code}\n{body}", elapsed

    # Interleaved, so a moment when the machine is busy (the suite runs in three processes on two
    # cores) slows both kinds alike rather than one of them.
    pairs = [(answer(taro.login_id), answer(f"nobody_{i}x")) for i in range(7)]
    known, unknown = [k for k, _ in pairs], [u for _, u in pairs]
    assert {k for k, _ in known} == {u for u, _ in unknown}  # the same page, word for word
    gap = abs(statistics.median(t for _, t in known) - statistics.median(t for _, t in unknown))
    assert gap < 0.05, f"known and unknown differ by {gap * 1000:.0f} ms"  # mail is queued, not sent inline


def _timed_posts(client, path: str, forms: list[dict]) -> list[tuple[str, float]]:
    out = []
    for form in forms:
        page = client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        started = time.perf_counter()
        response = client.post(path, data=dict(form, csrf_token=token))
        elapsed = time.perf_counter() - started
        body = re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))  # the CSRF token, the echoed ID
        out.append((f"{response.status_code}\n{body}", elapsed))
    return out


def _same_pages(known, unknown) -> None:
    import difflib

    pages_known, pages_unknown = {k for k, _ in known}, {u for u, _ in unknown}
    if pages_known != pages_unknown:
        diff = difflib.unified_diff(sorted(pages_known)[0].splitlines(), sorted(pages_unknown)[0].splitlines(),
                                    lineterm="", n=0)
        raise AssertionError("the answers differ:\n" + "\n".join(list(diff)[:20]))


def _hash_seconds() -> float:
    from storage.security import hash_password

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        hash_password("Timing2026x")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def test_a_wrong_password_and_an_unknown_account_id_answer_alike_in_content_and_time(app, client):
    """Alternating known and unknown, so the machine's load drifts over both alike; the gap must
    stay well under one password hash (what skipping the hash for an unknown ID would show)."""
    taro = seed_customer_with_account(app)
    known, unknown = [], []
    for i in range(4):
        known += _timed_posts(client, "/login", [{"account_id": taro.login_id, "password": f"Wrong{i}pass9"}])
        unknown += _timed_posts(client, "/login", [{"account_id": "nobody_x", "password": f"Wrong{i}pass9"}])
    _same_pages(known, unknown)
    # The fastest of each: what the work costs, without the other engineers' load on top.
    gap = abs(min(t for _, t in known) - min(t for _, t in unknown))
    one_hash = _hash_seconds()
    assert gap < max(one_hash / 2, 0.02), f"{gap * 1000:.0f} ms apart; one hash takes {one_hash * 1000:.0f} ms"


def test_the_account_id_reminder_answers_alike_for_a_known_and_an_unknown_address_in_time(app, client):
    seed_customer_with_account(app)
    known, unknown = [], []
    for _ in range(5):  # interleaved: a busy moment slows both alike
        known += _timed_posts(client, "/reminder/account-id", [{"email": "taro@example.jp"}])
        unknown += _timed_posts(client, "/reminder/account-id", [{"email": "nobody@example.jp"}])
    _same_pages(known, unknown)
    gap = abs(statistics.median(t for _, t in known) - statistics.median(t for _, t in unknown))
    assert gap < 0.05, f"{gap * 1000:.0f} ms apart"
