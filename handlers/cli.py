"""Operator commands (``flask --app app …``): imports and demo data."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the operator commands."""
