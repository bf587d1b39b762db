"""The operators' edge: ``GET /metrics``, what ``flask --app app check`` asks, and the retention settings.

``metrics_view`` serves the Prometheus text (``handlers.metrics`` defines every metric) to
loopback clients or to ``Authorization: Bearer $METRICS_TOKEN``; ``check`` asks each configured
dependency whether it answers. The commands (``check``, ``queues``, ``purge``) are
``handlers.cli.ops``.
"""

from __future__ import annotations

from flask import Flask

from handlers.ops import metrics_view
from storage import retention


def init_app(app: Flask) -> None:
    """Register /metrics; a retention setting that is not a number of days stops the start-up
    (``RetentionSettingError`` names it: ``purge`` would refuse to run)."""
    retention.validate(app.config)
    metrics_view.init_app(app)
