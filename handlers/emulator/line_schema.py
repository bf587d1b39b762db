"""Validation of LINE bodies against LINE's own OpenAPI spec and documented limits.

``validate(schema_name, body)`` checks a Messaging API request body (``ReplyMessageRequest``,
``PushMessageRequest``, ``MulticastRequest``, ``ShowLoadingAnimationRequest``, or any other
name under ``components/schemas`` of ``messaging-api.yml``); ``validate_webhook(body)`` checks a
webhook body (``CallbackRequest`` of ``webhook.yml``). Both return LINE-style error strings,
``messages[0].contents.body.contents[1].text: must not be empty``, and an empty list when LINE
would accept the body.

How the spec becomes validators (once, on first use, then cached):

1. the YAML vendored in ``handlers/emulator/line_openapi/`` is read (C loader when PyYAML has it);
2. LINE's documented limits the spec leaves out are written into its schemas (``line_limits``):
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

from handlers.emulator.line_limits import SCHEMAS, also, tighten_messaging, tighten_richmenu

SPEC_DIR = Path(__file__).with_name("line_openapi")
MESSAGING_SPEC = "messaging-api.yml"
WEBHOOK_SPEC = "webhook.yml"
DISPATCH = "__dispatch"


# -- loading and transforming the spec --------------------------------------------------------
def _load(spec: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (SPEC_DIR / spec).open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=loader)  # noqa: S506 - a safe loader


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
            also(schemas, target, properties={prop: {"enum": values}})
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
        tighten_messaging(schemas)
        tighten_richmenu(schemas)
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
