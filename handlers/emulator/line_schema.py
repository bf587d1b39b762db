"""Validation of LINE bodies against LINE's own OpenAPI spec and documented limits.

``validate(schema_name, body)`` checks a Messaging API request body (``ReplyMessageRequest``,
``PushMessageRequest``, ``MulticastRequest``, ``ShowLoadingAnimationRequest``, or any other
name under ``components/schemas`` of ``messaging-api.yml``); ``validate_webhook(body)`` checks a
webhook body (``CallbackRequest`` of ``webhook.yml``). Both return LINE-style error strings,
``messages[0].contents.body.contents[1].text: must not be empty``, and an empty list when LINE
would accept the body.

How the spec becomes validators (once, on first use, then cached):

1. the YAML vendored in ``handlers/line_openapi/`` is read (C loader when PyYAML has it);
2. LINE's documented limits the spec leaves out are written into its schemas (``_tighten_*``):
   text ≤ 5000 and altText ≤ 1500 (UTF-16 units, as LINE counts), quick reply 1..13 items with
   labels ≤ 20, Flex button labels ≤ 40, uri schemes, colours, sizes, bubble ≤ 30 KB, carousel
   ≤ 12 bubbles and ≤ 50 KB, ...;
3. every ``discriminator`` becomes a dispatch schema ``<Base>__dispatch`` that requires the
   property, rejects unknown values (``enum``) and applies the mapped subtype (our keyword
   ``x-dispatch``: one ``$ref`` looked up by value, 10x faster than an ``if``/``then`` per value); every
   ``$ref`` to the base points at the dispatch schema instead, except the ``allOf`` ``$ref`` by
   which a subtype extends its base (that would recurse);
4. OpenAPI 3.0 dialect -> JSON Schema 2020-12 (``nullable``, boolean ``exclusiveMinimum``);
5. one jsonschema validator per schema name, resolving ``$ref`` through a ``referencing`` registry.

Unknown properties are allowed (LINE ignores most of them); types, enums, required properties,
lengths and item counts are strict. Our keywords: ``x-dispatch``, ``x-maxUtf16``,
``x-maxJsonBytes``; ``x-message`` words the error of a ``pattern``/``enum``/``not`` beside it.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).with_name("line_openapi")
MESSAGING_SPEC = "messaging-api.yml"
WEBHOOK_SPEC = "webhook.yml"
SCHEMAS = "#/components/schemas/"
DISPATCH = "__dispatch"

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


# -- loading and transforming the spec --------------------------------------------------------
def _load(spec: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (SPEC_DIR / spec).open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=loader)  # noqa: S506 - a safe loader


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


def _also(schemas: dict, name: str, **keywords: Any) -> None:
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


def _tighten_messaging(schemas: dict) -> None:
    """Write LINE's documented limits that messaging-api.yml leaves out into its schemas."""
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

    # quick reply: 1..13 buttons, each an action with a label of at most 20 characters
    schemas["QuickReply"]["required"] = ["items"]
    _constrain(schemas, "QuickReply", "items", minItems=1, maxItems=MAX_QUICK_REPLY_ITEMS)
    schemas["QuickReplyItem"]["required"] = ["type", "action"]
    _constrain(schemas, "QuickReplyItem", "type", enum=["action"])
    _constrain(schemas, "QuickReplyItem", "imageUrl", **HTTPS_URL)
    _own_properties(schemas, "QuickReplyItem")["action"] = _action(QUICK_REPLY_ACTIONS, MAX_QUICK_REPLY_LABEL,
                                                                   label_required=True)

    # actions
    _constrain(schemas, "Action", "label", maxLength=MAX_FLEX_LABEL)
    _also(schemas, "MessageAction", required=["text"])
    _constrain(schemas, "MessageAction", "text", minLength=1, maxLength=MAX_ACTION_TEXT)
    _also(schemas, "PostbackAction", required=["data"])
    _constrain(schemas, "PostbackAction", "displayText", minLength=1, maxLength=MAX_ACTION_TEXT)
    _constrain(schemas, "PostbackAction", "text", maxLength=MAX_ACTION_TEXT)
    _also(schemas, "URIAction", required=["uri"])
    _constrain(schemas, "URIAction", "uri", **ACTION_URI)
    _constrain(schemas, "AltUri", "desktop", **ACTION_URI)
    _also(schemas, "DatetimePickerAction", required=["data", "mode"])

    # template messages
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

    # Flex
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
    _also(schemas, "FlexBubble", **{"x-maxJsonBytes": MAX_BUBBLE_BYTES})
    _also(schemas, "FlexCarousel", **{"x-maxJsonBytes": MAX_CAROUSEL_BYTES})
    _constrain(schemas, "FlexCarousel", "contents", minItems=1, maxItems=MAX_CAROUSEL_BUBBLES)
    for name in [n for n in schemas if n.startswith("Flex")]:
        if _own_properties(schemas, name).get("action") == {"$ref": SCHEMAS + "Action"}:
            _own_properties(schemas, name)["action"] = _action(MESSAGE_ACTIONS, MAX_FLEX_LABEL,
                                                               label_required=name == "FlexButton")
    _constrain(schemas, "FlexBubble", "hero", properties={"type": {
        "enum": ["box", "image", "video"], "x-message": "a hero must be a box, image or video"}})
    # a text shows `text` unless it has spans in `contents`
    _also(schemas, "FlexText", **{
        "if": {"required": ["contents"], "properties": {"contents": {"type": "array", "minItems": 1}}},
        "else": {"required": ["text"], "properties": {"text": {"minLength": 1}}}})
    _also(schemas, "FlexSpan", required=["text"])
    _constrain(schemas, "FlexSpan", "text", minLength=1)
    # a baseline box holds icons, texts and fillers; the other boxes hold no icons (and spans live in texts)
    _also(schemas, "FlexBox", **{
        "if": {"required": ["layout"], "properties": {"layout": {"const": "baseline"}}},
        "then": {"properties": {"contents": {"items": {"properties": {"type": {
            "enum": ["icon", "text", "filler"], "x-message": "a baseline box holds only icon, text and filler"}}}}}},
        "else": {"properties": {"contents": {"items": {"properties": {"type": {
            "not": {"enum": ["icon", "span"]},
            "x-message": "icon belongs in a baseline box, span in a text's contents"}}}}}}})


# Rich menus (https://developers.line.biz/en/reference/messaging-api/#rich-menu-object): every
# property required, width 800-2500, height at least 250, 1-20 areas, action labels of 20.
RICH_MENU_ACTIONS = ["postback", "message", "uri", "datetimepicker", "richmenuswitch", "clipboard"]


def _tighten_richmenu(schemas: dict) -> None:
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


def _resolve_discriminators(schemas: dict) -> None:
    """Turn every ``discriminator`` into a dispatch schema and point ``$ref``s at it (see module doc)."""
    bases = {name: schema.pop("discriminator") for name, schema in schemas.items() if "discriminator" in schema}
    extends: dict[str, set[str]] = defaultdict(set)  # subtype -> the bases it is mapped from
    for base, discriminator in bases.items():
        prop = discriminator["propertyName"]
        mapping = discriminator["mapping"]
        values_of: dict[str, list[str]] = defaultdict(list)
        for value, ref in mapping.items():
            target = ref.removeprefix(SCHEMAS)
            values_of[target].append(value)
            extends[target].add(base)
        schemas[base + DISPATCH] = {
            "type": "object",
            "required": [prop],
            "properties": {prop: {"type": "string", "enum": list(mapping)}},
            "x-dispatch": {"propertyName": prop, "mapping": mapping},
        }
        for target, values in values_of.items():  # a subtype used directly still checks its own type
            _also(schemas, target, properties={prop: {"enum": values}})
    for name, schema in schemas.items():
        if name.endswith(DISPATCH):
            continue
        own_bases = extends.get(name, set())
        for key, value in schema.items():
            if key == "allOf":
                for part in value:
                    if part.get("$ref", "").removeprefix(SCHEMAS) not in own_bases:
                        _point_at_dispatch(part, bases)
            else:
                _point_at_dispatch(value, bases)


def _point_at_dispatch(node: Any, bases: dict) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMAS) and ref.removeprefix(SCHEMAS) in bases:
            node["$ref"] = ref + DISPATCH
        for value in node.values():
            _point_at_dispatch(value, bases)
    elif isinstance(node, list):
        for value in node:
            _point_at_dispatch(value, bases)


def _to_json_schema(node: Any) -> None:
    """OpenAPI 3.0 schema dialect -> JSON Schema 2020-12, in place."""
    if isinstance(node, dict):
        if isinstance(node.get("nullable"), bool):
            if node.pop("nullable") and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
                if "enum" in node and None not in node["enum"]:
                    node["enum"] = [*node["enum"], None]
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if isinstance(node.get(exclusive), bool):
                if node.pop(exclusive) and bound in node:
                    node[exclusive] = node.pop(bound)
        for value in node.values():
            _to_json_schema(value)
    elif isinstance(node, list):
        for value in node:
            _to_json_schema(value)


# -- LINE's rules jsonschema has no keyword for ---------------------------------------------
def _required(validator, required, instance, schema) -> Iterator[ValidationError]:
    """Like jsonschema's, but the error's path names the missing property."""
    if validator.is_type(instance, "object"):
        for prop in required:
            if prop not in instance:
                yield ValidationError(f"{prop!r} is a required property", path=[prop])


def _dispatch(validator, discriminator, instance, schema) -> Iterator[ValidationError]:
    """Apply the subtype the discriminator names (one ``$ref``, where if/then per value would try all)."""
    if validator.is_type(instance, "object"):
        value = instance.get(discriminator["propertyName"])
        if isinstance(value, str) and value in discriminator["mapping"]:
            yield from validator.descend(instance, {"$ref": discriminator["mapping"][value]})


def _max_utf16(validator, maximum, instance, schema) -> Iterator[ValidationError]:
    """LINE counts text length in UTF-16 code units (an emoji such as 🍎 is 2)."""
    if validator.is_type(instance, "string") and len(instance.encode("utf-16-le")) // 2 > maximum:
        yield ValidationError(f"{instance!r} is too long")


def _max_json_bytes(validator, maximum, instance, schema) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        size = len(json.dumps(instance, ensure_ascii=False, separators=(",", ":")).encode())
        if size > maximum:
            yield ValidationError(f"JSON size must be at most {maximum} bytes (is {size})")


_LineValidator = validators.extend(
    Draft202012Validator,
    {"required": _required, "x-dispatch": _dispatch, "x-maxUtf16": _max_utf16, "x-maxJsonBytes": _max_json_bytes},
)

_build_lock = threading.Lock()


@cache
def _registry(spec: str) -> tuple[Registry, frozenset[str]]:
    document = _load(spec)
    schemas = document["components"]["schemas"]
    if spec == MESSAGING_SPEC:
        _tighten_messaging(schemas)
        _tighten_richmenu(schemas)
    _resolve_discriminators(schemas)
    _to_json_schema(schemas)
    resource = Resource(contents=document, specification=DRAFT202012)
    return Registry().with_resource(f"urn:line-openapi:{spec}", resource), frozenset(schemas)


@cache
def _validator(spec: str, schema_name: str) -> Draft202012Validator:
    with _build_lock:
        registry, names = _registry(spec)
    if schema_name not in names:
        raise KeyError(f"{spec} has no schema {schema_name!r}")
    name = schema_name + DISPATCH if schema_name + DISPATCH in names else schema_name
    return _LineValidator({"$ref": f"urn:line-openapi:{spec}{SCHEMAS}{name}"}, registry=registry)


# -- errors in LINE's words ------------------------------------------------------------------
_ARTICLE = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
            "number": "a number", "boolean": "a boolean", "null": "null"}


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _size(schema: dict, low: str, high: str, instance: Any) -> str:
    minimum = schema.get(low, 0)
    maximum = schema.get("x-maxUtf16", schema.get(high))
    if low == "minLength" and instance == "" and minimum >= 1:
        return "must not be empty"
    if maximum is None:
        return f"size must be at least {minimum}"
    if maximum == minimum:
        return f"size must be {minimum}"
    return f"size must be between {minimum} and {maximum}"


def _describe(error: ValidationError) -> str:
    keyword, schema, instance = error.validator, error.schema, error.instance
    schema = schema if isinstance(schema, dict) else {}
    if keyword in ("pattern", "enum", "not") and "x-message" in schema:
        return schema["x-message"]
    if keyword == "required":
        return "must be specified"
    if keyword in ("minLength", "maxLength", "x-maxUtf16"):
        return _size(schema, "minLength", "maxLength", instance)
    if keyword in ("minItems", "maxItems"):
        return _size(schema, "minItems", "maxItems", instance)
    if keyword == "enum":
        return f"must be one of [{', '.join(str(v) for v in error.validator_value)}], not {instance!r}"
    if keyword == "const":
        return f"must be {error.validator_value!r}"
    if keyword == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return "must be " + " or ".join(_ARTICLE.get(t, t) for t in expected)
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return f"must be between {low} and {high}" if None not in (low, high) else error.message
    if keyword == "pattern":
        return f"must match {error.validator_value}"
    if keyword == "multipleOf":
        return f"must be a multiple of {error.validator_value}"
    return error.message


def _errors(validator: Draft202012Validator, body: Any) -> list[str]:
    out: list[str] = []
    for error in validator.iter_errors(body):
        line = f"{_path(error.absolute_path)}: {_describe(error)}"
        if line not in out:
            out.append(line)
    return out


def validate(schema_name: str, body: Any) -> list[str]:
    """Errors LINE would report for ``body`` sent as ``schema_name`` (a messaging-api.yml schema)."""
    return _errors(_validator(MESSAGING_SPEC, schema_name), body)


def validate_webhook(body: Any) -> list[str]:
    """Errors in a webhook body (``CallbackRequest`` of webhook.yml), as the tests build them."""
    return _errors(_validator(WEBHOOK_SPEC, "CallbackRequest"), body)
