"""``flask --app app richmenu sync`` and ``richmenu draw``: the お客様メニュー (LINE rich menus).

The work is ``handlers.line.richmenu`` (``sync``: the idempotent sync, LINE's hourly limits) and
``handlers.line.richmenu_image`` (the menus' images); these commands print what it did.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from linebot.v3.messaging import ApiException

from bot.menus import MENUS
from handlers.line.richmenu import RateLimited, sync
from handlers.line.richmenu_image import FontMissing, menu_png


@click.group("richmenu")
def richmenu_group() -> None:
    """The お客様メニュー (LINE rich menus)."""


@richmenu_group.command("sync")
@click.option("--relink", is_flag=True, help="Link every linked customer again even if their menu did not change.")
@with_appcontext
def sync_command(relink: bool) -> None:
    """Create or update both rich menus, set the default, link the linked customers, delete old menus."""
    try:
        report = sync(relink=relink)
    except RateLimited as exc:
        raise click.ClickException(f"{exc}; nothing is lost: run `richmenu sync` again in an hour") from None
    except ApiException as exc:
        raise click.ClickException(f"LINE refused a rich menu call (status {exc.status})") from None
    except FontMissing as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines:
        click.echo(line)


@richmenu_group.command("draw")
@click.option("--out", "out_dir", default="docs/richmenu", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def draw_command(out_dir: Path) -> None:
    """Write both menus' images as PNG (the README shows docs/richmenu/)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind, menu in MENUS.items():
        path = out_dir / f"{kind}.png"
        try:
            path.write_bytes(menu_png(menu))
        except FontMissing as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{path} ({menu.width}x{menu.height})")


def init_app(app: Flask) -> None:
    """Register ``richmenu``."""
    app.cli.add_command(richmenu_group)
