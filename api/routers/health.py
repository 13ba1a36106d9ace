"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.wiring import Wiring, wiring

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    checks: dict[str, bool] = Field(examples=[{"kafka": True, "cassandra": True, "redis": True}])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A service does not answer."}},
    summary="Kafka, Cassandra and Redis all answer",
)
async def readyz(w: Annotated[Wiring, Depends(wiring)]) -> JSONResponse:
    names = list(w.checks)
    results = await asyncio.gather(*(w.checks[n]() for n in names))
    checks = dict(zip(names, results, strict=True))
    ok = all(results)
    body = Readiness(status="ready" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
