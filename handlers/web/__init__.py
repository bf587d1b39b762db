"""The web edge: the My Page (login, bills, reminder, account settings), the 本登録 page, server-side sessions,
CSRF, security headers, ``/healthz`` and the error pages. The pages' text is in ``templates/``."""

from __future__ import annotations

from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from handlers.web import common, mypage, register_page, settings


class _CompiledTemplates(BytecodeCache):
    """The templates compiled once per process, not once per app: a process that builds many apps
    (the tests build one for each test) otherwise compiled every page again each time. Jinja
    keys each entry by the template's name and checks its source, so an edited template is
    compiled afresh."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


def init_app(app: Flask) -> None:
    """CSRF and headers first (other edges exempt their signed webhooks from it), then the pages."""
    app.jinja_options = {**app.jinja_options, "bytecode_cache": COMPILED_TEMPLATES}  # before jinja_env is made
    common.init_app(app)
    register_page.init_app(app)
    mypage.init_app(app)
    settings.init_app(app)
