"""The operator's edge: the ``flask --app app …`` commands, the CSV imports (the FAQ too) and demo data loading."""

from __future__ import annotations

from flask import Flask

from handlers.cli import commands, db, faq, notices, ops, richmenu, worker


def init_app(app: Flask) -> None:
    """Register the operator commands."""
    commands.init_app(app)
    faq.init_app(app)
    notices.init_app(app)  # notify-bills
    db.init_app(app)
    worker.init_app(app)
    ops.init_app(app)
    richmenu.init_app(app)
