"""The `toot` CLI (PyPI, pinned in pyproject.toml) as a subprocess against a real API process and worker: it logs
in with the password grant (`toot login_cli`, which registers its own app first), posts, and reads its home
timeline, as a new user of toot would. Its config lives in a temporary XDG_CONFIG_HOME."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mastodon import Mastodon

from infra.settings import Settings
from tests.integration.support import WorkerProcess

pytestmark = pytest.mark.integration


def toot(home: Path, *args: str) -> str:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    done = subprocess.run([sys.executable, "-m", "toot", "--no-color", *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, f"toot {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_toot_logs_in_posts_and_reads_its_timeline(
    base_url: str, settings: Settings, worker: WorkerProcess, uniq: str, tmp_path: Path
) -> None:
    # an account registered through the API (toot itself cannot register one)
    client_id, secret = Mastodon.create_app("chirp toot test", api_base_url=base_url)
    app: Any = Mastodon(client_id=client_id, client_secret=secret, api_base_url=base_url, request_timeout=30)
    name = f"tt{uniq}"
    app.create_account(name, "toot's long password", f"{name}@mail.example", agreement=True)

    out = toot(tmp_path, "login_cli", "--instance", base_url, "--email", f"{name}@mail.example",
               "--password", "toot's long password")  # fmt: skip
    assert "Successfully logged in" in out
    config = json.loads((tmp_path / "config" / "toot" / "config.json").read_text())
    assert config["active_user"] == f"{name}@127.0.0.1:{base_url.rsplit(':', 1)[1]}", config
    assert f"@{name}" in toot(tmp_path, "whoami")

    out = toot(tmp_path, "post", f"hello from toot #tt{uniq}")
    posted = re.search(rf"Toot posted: {re.escape(base_url)}/@{name}/(\d+)", out)
    assert posted, out
    status_id = posted.group(1)

    # the deprecated `toot timeline` and its successor both show the post at once (read your own writes)
    shown = toot(tmp_path, "timeline", "--once")
    assert f"hello from toot #tt{uniq}" in shown and f"ID {status_id}" in shown, shown
    home = json.loads(toot(tmp_path, "timelines", "home", "--json"))
    assert home[0]["id"] == status_id and home[0]["account"]["acct"] == name
    assert f"#tt{uniq}" in toot(tmp_path, "status", status_id)
