"""Drawing the rich menu images from ``bot.menus`` with Pillow and Debian's Noto Sans CJK.

Every area of the definition becomes one card at exactly its bounds: an icon, the label
(large, bold) and a caption. Text is shrunk until it fits its card, so a longer label can
never spill into the next area. The font is looked up at run time (``make fonts``
installs ``fonts-noto-cjk``); without it drawing fails with a message that says so,
because a menu drawn in a fallback font would show boxes instead of Japanese.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.menus import Area, Menu
from storage.errors import Misconfigured

FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/opentype"), Path("/usr/share/fonts"),
             Path("/usr/local/share/fonts"))
FONT_FACE = "Noto Sans CJK JP"

BACKGROUND = (236, 241, 246)
CARD = (255, 255, 255)
CARD_BORDER = (206, 216, 228)
INK = (31, 42, 55)
MUTED = (92, 104, 120)
ACCENT = (18, 94, 168)  # the primary card and every icon
ACCENT_SOFT = (226, 237, 249)
ON_ACCENT = (255, 255, 255)
ON_ACCENT_MUTED = (214, 230, 247)

GAP = 14  # between cards, and around the edge
RADIUS = 36


class FontMissing(Misconfigured, RuntimeError):
    """The Japanese font is not installed."""


@cache
def font_path(weight: str) -> tuple[str, int]:
    """The Noto Sans CJK JP file and face index for ``Bold`` or ``Regular``; FontMissing when absent."""
    for folder in FONT_DIRS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob(f"NotoSansCJK*-{weight}.tt[cf]")) + sorted(
                folder.rglob(f"NotoSansCJKjp-{weight}.otf")):
            for index in range(10):
                try:
                    face = ImageFont.truetype(str(path), 20, index=index)
                except OSError:
                    break
                if face.getname()[0] == FONT_FACE:
                    return str(path), index
    raise FontMissing(f"the Japanese font {FONT_FACE} ({weight}) is not installed: run `make fonts` "
                      "(Debian's fonts-noto-cjk) before drawing the rich menus")


@cache
def _font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    path, index = font_path(weight)
    return ImageFont.truetype(path, size, index=index)


def _fitting(draw: ImageDraw.ImageDraw, text: str, weight: str, size: int, max_width: int) -> ImageFont.FreeTypeFont:
    """The largest font up to ``size`` at which ``text`` fits ``max_width``."""
    while size > 12:
        font = _font(weight, size)
        if draw.textlength(text, font=font) <= max_width:
            return font
        size -= 4
    return _font(weight, size)


# -- icons: simple shapes in the accent colour, drawn in a box of side ``s`` at (x, y) ---------
def _icon(draw: ImageDraw.ImageDraw, name: str, x: int, y: int, s: int, fg, bg) -> None:
    draw.ellipse((x, y, x + s, y + s), fill=bg)
    cx, cy, u = x + s / 2, y + s / 2, s / 10  # centre and a unit

    def glyph(text: str, scale: float = 0.55) -> None:
        font = _font("Bold", int(s * scale))
        draw.text((cx, cy), text, font=font, fill=fg, anchor="mm")

    width = max(int(u * 0.7), 4)
    if name == "register":  # a person with a plus
        draw.ellipse((cx - 2.6 * u, cy - 3.4 * u, cx - 0.2 * u, cy - 1.0 * u), fill=fg)
        draw.chord((cx - 4.0 * u, cy - 0.4 * u, cx + 1.2 * u, cy + 4.6 * u), 180, 360, fill=fg)
        draw.rectangle((cx + 1.6 * u, cy - 0.5 * u, cx + 4.2 * u, cy + 0.5 * u), fill=fg)
        draw.rectangle((cx + 2.4 * u, cy - 1.3 * u, cx + 3.4 * u, cy + 1.3 * u), fill=fg)
    elif name == "link":  # two chain links
        draw.rounded_rectangle((cx - 4.0 * u, cy - 1.6 * u, cx + 0.6 * u, cy + 1.6 * u), radius=1.6 * u,
                               outline=fg, width=width)
        draw.rounded_rectangle((cx - 0.6 * u, cy - 1.6 * u, cx + 4.0 * u, cy + 1.6 * u), radius=1.6 * u,
                               outline=fg, width=width)
    elif name == "question":
        glyph("Q&A", 0.34)
    elif name == "help":
        glyph("?", 0.6)
    elif name == "yen":
        glyph("¥", 0.55)
    elif name == "chat":  # a speech bubble with three dots
        draw.rounded_rectangle((cx - 3.8 * u, cy - 2.8 * u, cx + 3.8 * u, cy + 2.0 * u), radius=1.4 * u, fill=fg)
        draw.polygon([(cx - 1.8 * u, cy + 1.8 * u), (cx - 2.8 * u, cy + 3.8 * u), (cx + 0.2 * u, cy + 1.8 * u)],
                     fill=fg)
        for dx in (-2.0, 0.0, 2.0):
            draw.ellipse((cx + (dx - 0.55) * u, cy - 0.95 * u, cx + (dx + 0.55) * u, cy + 0.15 * u), fill=bg)
    elif name == "list":  # three lines with bullets
        for dy in (-2.2, 0.0, 2.2):
            draw.ellipse((cx - 3.6 * u, cy + (dy - 0.6) * u, cx - 2.4 * u, cy + (dy + 0.6) * u), fill=fg)
            draw.rounded_rectangle((cx - 1.6 * u, cy + (dy - 0.45) * u, cx + 3.6 * u, cy + (dy + 0.45) * u),
                                   radius=0.45 * u, fill=fg)
    elif name == "bell":
        draw.chord((cx - 2.6 * u, cy - 3.4 * u, cx + 2.6 * u, cy + 1.8 * u), 180, 360, fill=fg)
        draw.rectangle((cx - 2.6 * u, cy - 0.85 * u, cx + 2.6 * u, cy + 1.6 * u), fill=fg)
        draw.rounded_rectangle((cx - 3.6 * u, cy + 1.2 * u, cx + 3.6 * u, cy + 2.2 * u), radius=0.5 * u, fill=fg)
        draw.ellipse((cx - 0.9 * u, cy + 2.3 * u, cx + 0.9 * u, cy + 3.9 * u), fill=fg)
    elif name == "home":  # a house
        draw.polygon([(cx, cy - 3.8 * u), (cx - 4.0 * u, cy - 0.2 * u), (cx + 4.0 * u, cy - 0.2 * u)], fill=fg)
        draw.rectangle((cx - 2.8 * u, cy - 0.6 * u, cx + 2.8 * u, cy + 3.4 * u), fill=fg)
        draw.rectangle((cx - 0.8 * u, cy + 1.0 * u, cx + 0.8 * u, cy + 3.4 * u), fill=bg)
    else:
        raise ValueError(f"no icon named {name!r}")


def _card(draw: ImageDraw.ImageDraw, area: Area) -> None:
    left, top = area.x + GAP / 2, area.y + GAP / 2
    right, bottom = area.x + area.width - GAP / 2, area.y + area.height - GAP / 2
    # the outer edge of the canvas gets the full gap too
    left += GAP / 2 if area.x == 0 else 0
    top += GAP / 2 if area.y == 0 else 0
    fill = ACCENT if area.primary else CARD
    draw.rounded_rectangle((left, top, right, bottom), radius=RADIUS, fill=fill,
                           outline=None if area.primary else CARD_BORDER, width=4)
    ink, muted = (ON_ACCENT, ON_ACCENT_MUTED) if area.primary else (INK, MUTED)
    icon_fg, icon_bg = (ACCENT, ON_ACCENT) if area.primary else (ACCENT, ACCENT_SOFT)
    width, height = right - left, bottom - top
    padding = int(min(width, height) * 0.08)
    if width > 1.8 * height:  # a wide banner: icon left, text beside it
        icon = int(height * 0.52)
        text_left = left + padding * 2 + icon
        label = _fitting(draw, area.label, "Bold", int(height * 0.26), int(right - text_left - padding))
        caption = _fitting(draw, area.caption, "Regular", int(height * 0.125), int(right - text_left - padding))
        block = label.size + caption.size * 1.5
        icon_x = int(left + padding * 2)
        _icon(draw, area.icon, icon_x, int(top + (height - icon) / 2), icon, icon_fg, icon_bg)
        text_top = top + (height - block) / 2
        draw.text((text_left + padding, text_top), area.label, font=label, fill=ink, anchor="lt")
        draw.text((text_left + padding, text_top + label.size * 1.25), area.caption, font=caption, fill=muted,
                  anchor="lt")
        return
    icon = int(min(width, height) * 0.34)
    label = _fitting(draw, area.label, "Bold", int(height * 0.15), int(width - 2 * padding))
    caption = _fitting(draw, area.caption, "Regular", int(height * 0.088), int(width - 2 * padding))
    block = icon + padding * 0.7 + label.size + padding * 0.35 + caption.size
    y = top + (height - block) / 2
    cx = left + width / 2
    _icon(draw, area.icon, int(cx - icon / 2), int(y), icon, icon_fg, icon_bg)
    y += icon + padding * 0.7
    draw.text((cx, y), area.label, font=label, fill=ink, anchor="mt")
    y += label.size + padding * 0.35
    draw.text((cx, y), area.caption, font=caption, fill=muted, anchor="mt")


def draw_menu(menu: Menu) -> Image.Image:
    """The menu's picture at its own size."""
    image = Image.new("RGB", (menu.width, menu.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for area in menu.areas:
        _card(draw, area)
    return image


@cache
def menu_png(menu: Menu) -> bytes:
    """The menu's picture as PNG bytes (deterministic for the same definition and font), drawn once
    per process: an optimised PNG takes about a quarter of a second, and every rich menu sync
    (the worker's periodic check too) builds both menus to compare their hashes."""
    out = io.BytesIO()
    draw_menu(menu).save(out, format="PNG", optimize=True)
    return out.getvalue()
