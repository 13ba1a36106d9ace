"""Mastodon clients send parameters as a query string, a form (url-encoded or multipart) or JSON, and Rails
reads them all alike; so does this. `key[]` items make a list under `key`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request, status
from pydantic import BaseModel, ValidationError

BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
M = TypeVar("M", bound=BaseModel)


def collect(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Form or query items as a dict: a list for `key[]` and for a plain key sent more than once."""
    out: dict[str, Any] = {}
    for key, value in items:
        name = key.removesuffix("[]")
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = [value] if key.endswith("[]") else value
    return out


async def params(request: Request) -> dict[str, Any]:
    """The query parameters, overridden by the body's (JSON object, or form)."""
    found = collect(request.query_params.multi_items())
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        raw = await request.body()
        if raw.strip():
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, f"the body is not valid JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise HTTPException(status.HTTP_400_BAD_REQUEST, "the JSON body must be an object")
            found.update(data)
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form()
        except Exception as exc:  # a malformed multipart body
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"the form could not be read: {exc}") from exc
        found.update(collect((k, v) for k, v in form.multi_items() if isinstance(v, str)))
    return found


def validate(model: type[M], data: dict[str, Any]) -> M:
    """The model, or 422 `{"error": "Validation failed: <field>: <why>"}`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        why = str(first["msg"]).removeprefix("Value error, ")
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"Validation failed: {where}: {why}" if where else why
        ) from exc


def body_schema(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` of a route that takes `model` as JSON or as a form."""

    def ref(kind: str) -> dict[str, str]:
        form = "" if kind == "application/json" else "Form"  # a form cannot send null (api/mastodon/__init__.py)
        return {"$ref": f"#/components/schemas/{model.__name__}{form}"}

    return {"requestBody": {"required": required, "content": {t: {"schema": ref(t)} for t in BODY_TYPES}}}
