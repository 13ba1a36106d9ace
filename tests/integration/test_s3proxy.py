"""The launcher's S3Proxy, a second one on a free port with its own state folder (the shared services are left
alone): `chirp up --only s3proxy` resolves it with Maven, starts it, makes the bucket and reports it healthy;
it stores and serves objects; `chirp down` stops it; `chirp up` again finds the bucket and the objects kept."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from infra.objectstore import ObjectStore
from infra.settings import Settings
from ops.chaos import free_port
from tests.integration.support import chirp_cli

pytestmark = pytest.mark.integration


def _state(env: dict[str, str]) -> str:
    r = chirp_cli("status", "--only", "s3proxy", env=env)
    return r.stdout.splitlines()[1].split()[1]


def test_s3proxy_starts_serves_and_stops(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "CHIRP_S3_ENDPOINT": endpoint, "CHIRP_STATE_DIR": str(tmp_path), "CHIRP_S3_BUCKET": "probe"}
    settings = Settings(s3_endpoint=endpoint, state_dir=tmp_path, s3_bucket="probe")
    try:
        up = chirp_cli("up", "--only", "s3proxy", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "s3proxy      started, ready in" in up.stdout and "bucket probe created" in up.stdout, up.stdout
        assert _state(env) == "healthy"
        assert (tmp_path / "lib" / "s3proxy" / "s3proxy-2.6.0-jar-with-dependencies.jar").exists()
        conf = tmp_path / "s3proxy" / "s3proxy.conf"
        assert conf.stat().st_mode & 0o077 == 0 and "jclouds.provider=filesystem" in conf.read_text()

        ObjectStore(settings).put("1/x.txt", b"kept", "text/plain")
        assert (tmp_path / "s3proxy" / "data" / "probe" / "1" / "x.txt").read_bytes() == b"kept"
        assert httpx.get(f"{endpoint}/probe/1/x.txt").content == b"kept"  # public-read: no credentials
        assert httpx.get(f"{endpoint}/probe/").status_code == 403  # but no listing, nor writes, without them
        assert httpx.put(f"{endpoint}/probe/1/y.txt", content=b"no").status_code in (403, 501)

        again = chirp_cli("up", "--only", "s3proxy", env=env)
        assert "reused (already healthy" in again.stdout and "bucket probe exists" in again.stdout, again.stdout
    finally:
        down = chirp_cli("down", "--only", "s3proxy", env=env)
    assert down.returncode == 0 and "stopped (pid" in down.stdout, down.stdout + down.stderr
    assert _state(env) == "down"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{endpoint}/probe/1/x.txt")
    restarted = chirp_cli("up", "--only", "s3proxy", env=env)
    try:
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert httpx.get(f"{endpoint}/probe/1/x.txt").content == b"kept"
    finally:
        chirp_cli("down", "--only", "s3proxy", env=env)
