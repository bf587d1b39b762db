"""The operators' edge: ``GET /metrics``, and ``flask --app app check``, ``queues`` and ``purge``.

``metrics_view`` serves the Prometheus text (``handlers.metrics`` defines every metric) to
loopback clients or to ``Authorization: Bearer $METRICS_TOKEN``; ``check`` says what is
configured and whether it answers; ``commands`` holds ``queues`` (and ``queues retry``) and
``purge`` (the retention rules of ``storage.retention``).
"""

from __future__ import annotations

from flask import Flask

from handlers.ops import check, commands, metrics_view


def init_app(app: Flask) -> None:
    """Register /metrics and the operator commands."""
    metrics_view.init_app(app)
    check.init_app(app)
    commands.init_app(app)
