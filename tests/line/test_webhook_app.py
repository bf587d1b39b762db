"""The app around the webhook: /healthz, start-up configuration errors, log redaction, routes and proxies."""

from __future__ import annotations

import time

import pytest

from app import create_app


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_names_redis_when_down(make_app):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["redis"] and body["database"] == "ok"


def test_healthz_names_the_database_when_down(make_app):
    broken = make_app(DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["database"]


def test_production_refuses_to_start_without_secrets(monkeypatch):
    from app import ConfigError

    for name in ("SECRET_KEY", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "DEMO_DEFAULTS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": "sqlite://"})


def test_request_logs_redact_tokens():
    import logging

    from app import RedactTokens

    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, '%s - - "%s" %s',
                               ("127.0.0.1", "GET /register/complete/AbCdEfGhIjKlMnOpQrStUvWxYz012345 HTTP/1.1",
                                "200"), None)
    RedactTokens().filter(record)
    assert "AbCdEfGh" not in record.getMessage()
    assert "/register/complete/[redacted]" in record.getMessage()


def test_gunicorn_style_mapping_args_are_redacted_too():
    import logging

    from app import RedactTokens

    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(r)s %(s)s", (), None)
    record.args = {"r": "GET /mypage/bills/3?t=AbCdEfGhIjKlMnOpQrStUvWxYz012345 HTTP/1.1", "s": "200"}
    RedactTokens().filter(record)
    assert "AbCdEfGh" not in record.getMessage()


def test_root_opens_the_my_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/mypage")


def test_get_on_the_webhook_is_405_json(client):
    response = client.get("/callback")
    assert response.status_code == 405
    assert response.is_json


def test_get_on_a_post_only_page_is_a_japanese_405(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "このページは開けません" in response.get_data(as_text=True)


def test_proxy_hops_make_the_forwarded_address_the_client(make_app):
    from flask import request

    proxied = make_app(TRUSTED_PROXY_HOPS=1)

    @proxied.get("/_whoami")
    def whoami():
        return request.remote_addr or ""

    response = proxied.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == "203.0.113.9"


@pytest.mark.parametrize("name", ["REGISTRATION_LINK_TTL_SECONDS", "TRUSTED_PROXY_HOPS"])
def test_a_non_numeric_setting_is_a_start_up_error_naming_it(monkeypatch, name):
    from app import ConfigError

    monkeypatch.setenv(name, "1 day")
    with pytest.raises(ConfigError, match=name):
        create_app({"DATABASE_URL": "sqlite://"})


def test_healthz_answers_503_when_the_database_takes_the_connection_but_never_answers(make_app, monkeypatch):
    import socket

    from storage import db

    monkeypatch.setattr(db, "CONNECT_TIMEOUT_SECONDS", 1)  # the engine's own bound (5 s), shortened here

    with socket.socket() as silent:  # accepts TCP (the backlog does), never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        stuck = make_app(DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
        started = time.monotonic()
        response = stuck.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["database"]
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("url", ["smtp://mail.example.jp:submission", "http://mail.example.jp", "smtp://:25"])
def test_an_unusable_smtp_url_is_a_start_up_error(app_config, url):
    from app import ConfigError

    with pytest.raises(ConfigError, match="SMTP_URL"):
        create_app(dict(app_config, SMTP_URL=url))


@pytest.mark.parametrize("base", ["bot.example.jp", "ftp://bot.example.jp", "https://"])
def test_a_public_base_url_that_is_not_absolute_is_a_start_up_error(app_config, base):
    from app import ConfigError

    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(dict(app_config, PUBLIC_BASE_URL=base))

