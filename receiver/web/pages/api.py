"""/api: the OpenAPI document as a page people read, rendered here from the same document
(no Swagger UI or Redoc: their scripts and styles would break the CSP and call out)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from receiver.web.api.openapi import spec
from receiver.web.pages.env import page

Schema = dict[str, Any]


@dataclass(frozen=True)
class Shown:
    """A schema in one line; `link` names the component it is (or is a list of)."""

    text: str
    link: str | None = None


def _name(schema: Schema) -> str | None:
    target = schema.get("$ref")
    return target.rsplit("/", 1)[1] if isinstance(target, str) else None


def shown(schema: Schema) -> Shown:
    name = _name(schema)
    if name is not None:
        return Shown(name, name)
    if "oneOf" in schema:
        parts = [shown(s) for s in schema["oneOf"]]
        return Shown(
            " | ".join(p.text for p in parts), next((p.link for p in parts if p.link), None)
        )
    if "const" in schema:
        return Shown(json.dumps(schema["const"]))
    if "enum" in schema:
        return Shown(" | ".join(json.dumps(v) for v in schema["enum"]))
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    texts: list[str] = []
    link = None
    for kind in kinds:
        if kind == "array":
            item = shown(schema.get("items", {}))
            texts.append(f"{item.text}[]")
            link = item.link
        elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            texts.append(f"map of {shown(schema['additionalProperties']).text}")
        else:
            texts.append(str(schema.get("format", kind) if kind == "string" else kind))
    return Shown(" | ".join(texts), link)


def _limits(schema: Schema) -> list[str]:
    """The constraints a caller must meet, in words."""
    found = []
    if "minimum" in schema or "maximum" in schema:
        found.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    if "minLength" in schema or "maxLength" in schema:
        found.append(f"{schema.get('minLength', 0)}..{schema.get('maxLength', '')} characters")
    if "minItems" in schema or "maxItems" in schema:
        found.append(f"{schema.get('minItems', 0)}..{schema.get('maxItems', '')} items")
    if "default" in schema:
        found.append(f"default {schema['default']}")
    if "pattern" in schema:
        found.append(f"pattern {schema['pattern']}")
    return found


def _notes(schema: Schema, description: str = "") -> str:
    said = [description or schema.get("description", "")]
    items = schema.get("items")
    return "; ".join(s for s in [*said, *_limits(schema), *_limits(items or {})] if s)


def fields(schema: Schema) -> list[dict[str, Any]]:
    """One row per property of an object schema (none for anything else)."""
    required = set(schema.get("required", []))
    return [
        {"name": name, "type": shown(s), "required": name in required, "notes": _notes(s)}
        for name, s in schema.get("properties", {}).items()
    ]


def _curl(base: str, method: str, path: str, operation: Schema) -> str:
    url = path
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            url = url.replace(f"{{{parameter['name']}}}", str(parameter["example"]))
    words = ["curl", "-sS"] + ([] if method == "get" else ["-X", method.upper()])
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        words += ["-H", shlex.quote("Content-Type: application/json")]
        words += ["-d", shlex.quote(json.dumps(body["example"]))]
    return " ".join([*words, shlex.quote(base + url)])


def _operation(base: str, path: str, method: str, operation: Schema) -> dict[str, Any]:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return {
        "anchor": operation["operationId"],
        "method": method.upper(),
        "path": path,
        "operation": operation,
        "parameters": [
            {**p, "type": shown(p["schema"]), "notes": _notes(p["schema"], p.get("description"))}
            for p in operation.get("parameters", [])
        ],
        "body": body
        and {
            "type": shown(body["schema"]),
            "fields": fields(body["schema"]),
            "example": json.dumps(body["example"], indent=2),
        },
        "answers": [
            {
                "status": status,
                "description": answer["description"],
                "media": media,
                "type": shown(content["schema"]),
                "fields": fields(content["schema"]),
            }
            for status, answer in operation["responses"].items()
            for media, content in answer["content"].items()
        ],
        "curl": _curl(base, method, path, operation),
    }


async def api_page(request: web.Request) -> web.Response:
    document = spec()
    base = str(request.url.origin())
    operations = [
        _operation(base, path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    schemas = [
        {"name": name, "type": shown(schema), "fields": fields(schema), "notes": _notes(schema)}
        for name, schema in document["components"]["schemas"].items()
    ]
    return page(request, "api.html", info=document["info"], operations=operations, schemas=schemas)
