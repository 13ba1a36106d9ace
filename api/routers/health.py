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
    worker: str = Field(
        "ok",
        description="`ok`, or `degraded: <what it retries>` while a stream worker waits for a failing store "
        "(it retries, skipping nothing; reads may be stale meanwhile). Does not make this API unready.",
        examples=["ok", "degraded: batch of 500: OutOfMemoryError"],
    )


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
    degraded = await w.worker_degraded() if w.worker_degraded is not None else None
    worker = f"degraded: {degraded}" if degraded else "ok"
    body = Readiness(status="ready" if ok else "unavailable", checks=checks, worker=worker)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
