"""masto.js (npm `masto`, the exact version in tests/integration/js/package.json and its package-lock.json) run by
Node against a real API process and worker: tests/integration/js/masto_journey.mjs registers an app and two
accounts, logs in with a password, posts, follows, reads the home timeline, favourites, edits (fetching the
source first, as masto.js-based apps do) and receives an `update` on the user stream over WebSocket (the token
as Sec-WebSocket-Protocol), printing what it saw as JSON.

`npm ci` installs the locked packages once per lock file into a cache folder (XDG_CACHE_HOME, else ~/.cache);
nothing installed is kept in the repository. No Node or no registry fails the test: nothing here is skipped."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.integration.support import WorkerProcess

pytestmark = pytest.mark.integration

JS = Path(__file__).parent / "js"
MANIFESTS = ("package.json", "package-lock.json")


def node_major() -> int:
    node = shutil.which("node")
    assert node, "Node.js (node) is not installed; masto.js needs it"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    return int(version.strip().lstrip("v").split(".")[0])


def installed_masto() -> Path:
    """node_modules of the locked packages, installed by `npm ci` once per lock file."""
    digest = hashlib.sha256(b"".join((JS / name).read_bytes() for name in MANIFESTS)).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chirp" / f"masto-js-{digest}"
    if (cache / "node_modules" / "masto" / "package.json").exists():
        return cache / "node_modules"
    npm = shutil.which("npm")
    assert npm, "npm is not installed; masto.js is installed with it"
    staging = cache.with_name(f"{cache.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in MANIFESTS:
        shutil.copy(JS / name, staging / name)
    done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=staging,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, f"npm ci failed (is the npm registry reachable?):\n{done.stdout}{done.stderr}"
    try:
        staging.rename(cache)
    except OSError:  # another run installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return cache / "node_modules"


def test_masto_js_registers_posts_follows_favourites_and_streams(
    base_url: str, settings: Settings, worker: WorkerProcess, uniq: str, tmp_path: Path
) -> None:
    # masto 8 asks for Node 22; Node 20 has the WebSocket it needs behind a flag
    flags = ["--experimental-websocket"] if node_major() < 22 else []
    shutil.copy(JS / "masto_journey.mjs", tmp_path / "masto_journey.mjs")
    (tmp_path / "node_modules").symlink_to(installed_masto(), target_is_directory=True)
    done = subprocess.run(["node", *flags, "masto_journey.mjs", base_url, uniq], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, f"masto_journey.mjs failed:\n{done.stdout}{done.stderr}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert seen["version"].startswith("4.") and "(compatible; chirp " in seen["version"]
    assert seen["streaming"] == base_url.replace("http://", "ws://")
    assert set(seen["scope"].split()) == {"read", "write", "follow", "push"}
    assert seen["following"] is True
    assert f'href="{base_url}/tags/mj{uniq}"' in seen["firstContent"]
    assert seen["first"] in seen["home"]
    assert seen["favourited"] is True and seen["favourites"] == 1
    assert seen["source"] == f"hello from masto.js #mj{uniq}" and ", edited</p>" in seen["edited"]
    assert seen["update"]["stream"] == ["user"]
    assert seen["update"]["id"] in seen["posted"] and seen["update"]["account"] == seen["ann"]
