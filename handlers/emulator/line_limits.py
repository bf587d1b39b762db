"""LINE's documented limits that its OpenAPI spec leaves out, written into the spec's schemas.

``line_schema`` loads ``messaging-api.yml`` and, before it builds validators, hands the schemas
to ``tighten_messaging`` and ``tighten_richmenu`` here: text ≤ 5000 and altText ≤ 1500 (UTF-16
units, as LINE counts), quick reply 1..13 items with labels ≤ 20, which actions go where,
template sizes, Flex button labels ≤ 40, uri schemes, colours, sizes, bubble ≤ 30 KB, carousel
≤ 12 bubbles and ≤ 50 KB, rich menus of 800-2500 by 250-2500 with 1..20 areas. Each rule is a
JSON Schema keyword, or one of ``line_schema``'s own (``x-maxUtf16``, ``x-maxJsonBytes``;
``x-message`` words the error of a ``pattern``/``enum``/``not`` beside it).
"""

from __future__ import annotations

from typing import Any

SCHEMAS = "#/components/schemas/"  # where a $ref finds a schema of the spec

# LINE's documented limits (https://developers.line.biz/en/reference/messaging-api/).
MAX_MESSAGES = 5  # also in the spec (maxItems)
MAX_TEXT = 5000  # UTF-16 code units, as LINE counts
MAX_ALT_TEXT = 1500
MAX_QUICK_REPLY_ITEMS = 13
MAX_QUICK_REPLY_LABEL = 20
MAX_FLEX_LABEL = 40
MAX_ACTION_TEXT = 300  # message action text, postback data / displayText
MAX_URI = 1000
MAX_IMAGE_URL = 2000
MAX_CAROUSEL_BUBBLES = 12
MAX_BUBBLE_BYTES = 30_000  # "30 KB": read as 30,000 bytes of compact UTF-8 JSON, the stricter reading
MAX_CAROUSEL_BYTES = 50_000

_SPACE = r"none|xs|sm|md|lg|xl|xxl"
_PX = r"\d+(?:\.\d+)?px"
_PCT = r"\d+(?:\.\d+)?%"
_FONT = r"xxs|xs|sm|md|lg|xl|xxl|3xl|4xl|5xl"


def _one_of(pattern: str, message: str) -> dict:
    return {"type": "string", "pattern": f"^(?:{pattern})$", "x-message": message}


COLOR = _one_of(r"#[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?", "must be a colour code #RRGGBB or #RRGGBBAA")
SPACING = _one_of(f"{_SPACE}|{_PX}", "must be none, xs, sm, md, lg, xl, xxl or a size in px")
PADDING = _one_of(f"{_SPACE}|{_PX}|{_PCT}", "must be none, xs, sm, md, lg, xl, xxl, or a size in px or %")
OFFSET = _one_of(f"{_SPACE}|-?{_PX}|-?{_PCT}", "must be none, xs, sm, md, lg, xl, xxl, or a size in px or %")
LENGTH = _one_of(f"{_PX}|{_PCT}", "must be a size in px or %")
FONT_SIZE = _one_of(f"{_FONT}|{_PX}", "must be xxs, xs, sm, md, lg, xl, xxl, 3xl, 4xl, 5xl or a size in px")
IMAGE_SIZE = _one_of(f"{_FONT}|full|{_PX}|{_PCT}",
                     "must be xxs, xs, sm, md, lg, xl, xxl, 3xl, 4xl, 5xl, full, or a size in px or %")
CORNER_RADIUS = _one_of(f"{_SPACE}|{_PX}", "must be none, xs, sm, md, lg, xl, xxl or a size in px")
BORDER_WIDTH = _one_of(f"none|light|normal|medium|semi-bold|bold|{_PX}",
                       "must be none, light, normal, medium, semi-bold, bold or a size in px")
ASPECT_RATIO = _one_of(r"\d+(?:\.\d+)?:\d+(?:\.\d+)?", "must be width:height, e.g. 20:13")
LINE_SPACING = _one_of(_PX, "must be a size in px")
ANGLE = _one_of(r"-?\d+(?:\.\d+)?deg", "must be an angle in deg, e.g. 90deg")
PERCENT = _one_of(_PCT, "must be a percentage, e.g. 50%")
ACTION_URI = {"type": "string", "maxLength": MAX_URI, "pattern": r"^(?:https?://|line://|tel:)\S+$",
              "x-message": "must be a URI with the scheme http, https, line or tel"}
HTTPS_URL = {"type": "string", "maxLength": MAX_IMAGE_URL, "pattern": r"^https://\S+$",
             "x-message": "must be an https URL"}

# Flex style properties, by name, wherever a Flex schema declares them.
_FLEX_STYLE = {
    "color": COLOR, "backgroundColor": COLOR, "borderColor": COLOR, "separatorColor": COLOR,
    "startColor": COLOR, "endColor": COLOR, "centerColor": COLOR, "centerPosition": PERCENT, "angle": ANGLE,
    "margin": SPACING, "spacing": SPACING, "cornerRadius": CORNER_RADIUS, "borderWidth": BORDER_WIDTH,
    "paddingAll": PADDING, "paddingTop": PADDING, "paddingBottom": PADDING, "paddingStart": PADDING,
    "paddingEnd": PADDING, "offsetTop": OFFSET, "offsetBottom": OFFSET, "offsetStart": OFFSET, "offsetEnd": OFFSET,
    "aspectRatio": ASPECT_RATIO, "lineSpacing": LINE_SPACING,
}
_FLEX_SIZE = {"FlexText": FONT_SIZE, "FlexSpan": FONT_SIZE, "FlexIcon": FONT_SIZE, "FlexImage": IMAGE_SIZE}
_BOX_LENGTHS = ("width", "maxWidth", "height", "maxHeight")


# -- writing a rule into a schema -------------------------------------------------------------
def _own_properties(schemas: dict, name: str) -> dict:
    """The ``properties`` a schema declares itself (top level, or its allOf part that is not a $ref)."""
    schema = schemas[name]
    if "properties" in schema:
        return schema["properties"]
    for part in schema.get("allOf", []):
        if "properties" in part and "$ref" not in part:
            return part["properties"]
    return schema.setdefault("properties", {})


def _constrain(schemas: dict, name: str, prop: str, **keywords: Any) -> None:
    _own_properties(schemas, name).setdefault(prop, {}).update(keywords)


def also(schemas: dict, name: str, **keywords: Any) -> None:
    """Add a whole-object rule to a schema (as one more allOf part)."""
    schemas[name].setdefault("allOf", []).append(keywords)


# Which actions LINE allows where (camera, cameraRoll and location only on quick reply buttons;
# richmenuswitch only in rich menus).
QUICK_REPLY_ACTIONS = ["postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location", "clipboard"]
MESSAGE_ACTIONS = ["postback", "message", "uri", "datetimepicker", "clipboard"]


def _action(types: list[str], max_label: int, label_required: bool = False) -> dict:
    """An action of one of ``types`` with a label of at most ``max_label`` characters."""
    rules: dict[str, Any] = {"properties": {
        "type": {"enum": types, "x-message": f"must be one of [{', '.join(types)}] here"},
        "label": {"minLength": 1, "maxLength": max_label}}}
    if label_required:
        rules["required"] = ["label"]
    return {"allOf": [{"$ref": SCHEMAS + "Action"}, rules]}


def tighten_messaging(schemas: dict) -> None:
    """Write LINE's documented limits that messaging-api.yml leaves out into its schemas."""
    _tighten_requests(schemas)
    _tighten_quick_reply(schemas)
    _tighten_actions(schemas)
    _tighten_templates(schemas)
    _tighten_flex_values(schemas)
    _tighten_flex_structure(schemas)


def _tighten_requests(schemas: dict) -> None:
    """The request bodies: 1..5 messages, a text of at most 5000 UTF-16 units, https images."""
    utf16 = "x-maxUtf16"
    for request in ("ReplyMessageRequest", "PushMessageRequest", "MulticastRequest"):
        _constrain(schemas, request, "messages", minItems=1, maxItems=MAX_MESSAGES)
    _constrain(schemas, "ReplyMessageRequest", "replyToken", minLength=1)
    _constrain(schemas, "PushMessageRequest", "to", minLength=1)
    _constrain(schemas, "ShowLoadingAnimationRequest", "chatId", minLength=1)
    _constrain(schemas, "ShowLoadingAnimationRequest", "loadingSeconds", multipleOf=5)
    for name in ("TextMessage", "TextMessageV2"):
        _constrain(schemas, name, "text", minLength=1, **{utf16: MAX_TEXT})
    for name in ("FlexMessage", "TemplateMessage"):
        _constrain(schemas, name, "altText", minLength=1, **{utf16: MAX_ALT_TEXT})
    _constrain(schemas, "ImageMessage", "originalContentUrl", **HTTPS_URL)
    _constrain(schemas, "ImageMessage", "previewImageUrl", **HTTPS_URL)


def _tighten_quick_reply(schemas: dict) -> None:
    """Quick reply: 1..13 buttons, each an action with a label of at most 20 characters."""
    schemas["QuickReply"]["required"] = ["items"]
    _constrain(schemas, "QuickReply", "items", minItems=1, maxItems=MAX_QUICK_REPLY_ITEMS)
    schemas["QuickReplyItem"]["required"] = ["type", "action"]
    _constrain(schemas, "QuickReplyItem", "type", enum=["action"])
    _constrain(schemas, "QuickReplyItem", "imageUrl", **HTTPS_URL)
    _own_properties(schemas, "QuickReplyItem")["action"] = _action(QUICK_REPLY_ACTIONS, MAX_QUICK_REPLY_LABEL,
                                                                   label_required=True)


def _tighten_actions(schemas: dict) -> None:
    """Actions: labels, message text, postback data and display text, URIs."""
    _constrain(schemas, "Action", "label", maxLength=MAX_FLEX_LABEL)
    also(schemas, "MessageAction", required=["text"])
    _constrain(schemas, "MessageAction", "text", minLength=1, maxLength=MAX_ACTION_TEXT)
    also(schemas, "PostbackAction", required=["data"])
    _constrain(schemas, "PostbackAction", "displayText", minLength=1, maxLength=MAX_ACTION_TEXT)
    _constrain(schemas, "PostbackAction", "text", maxLength=MAX_ACTION_TEXT)
    also(schemas, "URIAction", required=["uri"])
    _constrain(schemas, "URIAction", "uri", **ACTION_URI)
    _constrain(schemas, "AltUri", "desktop", **ACTION_URI)
    also(schemas, "DatetimePickerAction", required=["data", "mode"])


def _tighten_templates(schemas: dict) -> None:
    """Template messages: how many actions and columns, title and text lengths."""
    template_action = _action(MESSAGE_ACTIONS, MAX_QUICK_REPLY_LABEL, label_required=True)
    for name, low, high in (("ButtonsTemplate", 1, 4), ("ConfirmTemplate", 2, 2), ("CarouselColumn", 1, 3)):
        _constrain(schemas, name, "actions", minItems=low, maxItems=high, items=template_action)
    _constrain(schemas, "ButtonsTemplate", "title", maxLength=40)
    _constrain(schemas, "ButtonsTemplate", "text", minLength=1, maxLength=160)
    _constrain(schemas, "ConfirmTemplate", "text", minLength=1, maxLength=240)
    _constrain(schemas, "CarouselColumn", "title", maxLength=40)
    _constrain(schemas, "CarouselColumn", "text", minLength=1, maxLength=120)
    for name in ("CarouselTemplate", "ImageCarouselTemplate"):
        _constrain(schemas, name, "columns", minItems=1, maxItems=10)


def _tighten_flex_values(schemas: dict) -> None:
    """Flex: colours, sizes, spacings, https URLs, bubble and carousel sizes, button labels."""
    for name in [n for n in schemas if n.startswith("Flex")]:
        for prop, rule in _own_properties(schemas, name).items():
            if prop in _FLEX_STYLE and rule.get("type") == "string" and "enum" not in rule:
                rule.update(_FLEX_STYLE[prop])
    for name, rule in _FLEX_SIZE.items():
        _constrain(schemas, name, "size", **rule)
    for prop in _BOX_LENGTHS:
        _constrain(schemas, "FlexBox", prop, **LENGTH)
    for name in ("FlexImage", "FlexIcon", "FlexVideo"):
        _constrain(schemas, name, "url", **HTTPS_URL)
    _constrain(schemas, "FlexVideo", "previewUrl", **HTTPS_URL)
    also(schemas, "FlexBubble", **{"x-maxJsonBytes": MAX_BUBBLE_BYTES})
    also(schemas, "FlexCarousel", **{"x-maxJsonBytes": MAX_CAROUSEL_BYTES})
    _constrain(schemas, "FlexCarousel", "contents", minItems=1, maxItems=MAX_CAROUSEL_BUBBLES)
    for name in [n for n in schemas if n.startswith("Flex")]:
        if _own_properties(schemas, name).get("action") == {"$ref": SCHEMAS + "Action"}:
            _own_properties(schemas, name)["action"] = _action(MESSAGE_ACTIONS, MAX_FLEX_LABEL,
                                                               label_required=name == "FlexButton")


def _tighten_flex_structure(schemas: dict) -> None:
    """Flex: what may hold what (heroes, texts with spans, baseline boxes)."""
    _constrain(schemas, "FlexBubble", "hero", properties={"type": {
        "enum": ["box", "image", "video"], "x-message": "a hero must be a box, image or video"}})
    # a text shows `text` unless it has spans in `contents`
    also(schemas, "FlexText", **{
        "if": {"required": ["contents"], "properties": {"contents": {"type": "array", "minItems": 1}}},
        "else": {"required": ["text"], "properties": {"text": {"minLength": 1}}}})
    also(schemas, "FlexSpan", required=["text"])
    _constrain(schemas, "FlexSpan", "text", minLength=1)
    # a baseline box holds icons, texts and fillers; the other boxes hold no icons (and spans live in texts)
    also(schemas, "FlexBox", **{
        "if": {"required": ["layout"], "properties": {"layout": {"const": "baseline"}}},
        "then": {"properties": {"contents": {"items": {"properties": {"type": {
            "enum": ["icon", "text", "filler"], "x-message": "a baseline box holds only icon, text and filler"}}}}}},
        "else": {"properties": {"contents": {"items": {"properties": {"type": {
            "not": {"enum": ["icon", "span"]},
            "x-message": "icon belongs in a baseline box, span in a text's contents"}}}}}}})


# Rich menus (https://developers.line.biz/en/reference/messaging-api/#rich-menu-object): every
# property required, width 800-2500, height at least 250, 1-20 areas, action labels of 20.
RICH_MENU_ACTIONS = ["postback", "message", "uri", "datetimepicker", "richmenuswitch", "clipboard"]


def tighten_richmenu(schemas: dict) -> None:
    """Every rich menu property required, its size and areas within LINE's bounds."""
    schemas["RichMenuRequest"]["required"] = ["size", "selected", "name", "chatBarText", "areas"]
    _constrain(schemas, "RichMenuRequest", "name", minLength=1)
    _constrain(schemas, "RichMenuRequest", "chatBarText", minLength=1)
    _constrain(schemas, "RichMenuRequest", "areas", minItems=1, maxItems=20)
    schemas["RichMenuSize"]["required"] = ["width", "height"]
    _constrain(schemas, "RichMenuSize", "width", minimum=800, maximum=2500)
    _constrain(schemas, "RichMenuSize", "height", minimum=250, maximum=2500)
    schemas["RichMenuArea"]["required"] = ["bounds", "action"]
    schemas["RichMenuBounds"]["required"] = ["x", "y", "width", "height"]
    _own_properties(schemas, "RichMenuArea")["action"] = _action(RICH_MENU_ACTIONS, MAX_QUICK_REPLY_LABEL)
