"""Runs a deployment's processes on this machine (`chirp run`): stream workers (one consumer group: they share
the partitions) and API processes. With several API processes, nginx listens on the API port and spreads
requests over them (each on a port of its own above it), or with `CHIRP_API_BALANCER=kernel` every process
listens on the API port itself (SO_REUSEPORT) and the kernel spreads the connections. A process that exits is
started again after a second, as a service manager would, so a killed worker or API process comes back; Ctrl-C
stops everything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from string import Template

from infra.services.provision import apt_install
from infra.settings import REPO_ROOT, Settings

TEMPLATE = REPO_ROOT / "infra" / "services" / "templates" / "nginx.conf"
RESTART_AFTER_S = 1.0


@dataclass
class Child:
    """One supervised process: what to run, and the process running it now."""

    name: str
    command: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, env=self.env, cwd=REPO_ROOT)

    def stop(self) -> None:
        from ops.chaos import terminate

        terminate(self.proc)


def plan(settings: Settings, workers: int, apis: int) -> list[Child]:
    """The processes of a deployment of `workers` stream workers and `apis` API processes (either may be 0)."""
    base = settings.child_env()
    python = [sys.executable, "-m"]
    children: list[Child] = []
    for i in range(workers):
        port = settings.worker_metrics_port + i if settings.worker_metrics_port else 0
        env = {**base, "CHIRP_WORKER_METRICS_PORT": str(port)}
        children.append(Child(f"worker-{i + 1}", [*python, "streams"], env))
    if apis <= 1:  # one API process on the API port itself; none: the workers alone (the benchmark's)
        children += [Child("api", [*python, "api"], base)] if apis else []
        return children
    kernel = settings.api_balancer == "kernel"
    for i in range(apis):
        metrics = settings.api_metrics_port + i if settings.api_metrics_port else 0
        env = {**base, "CHIRP_API_METRICS_PORT": str(metrics)}
        if kernel:  # every process on the API port; the kernel hands each connection to one of them
            env |= {"CHIRP_API_REUSE_PORT": "true"}
        else:  # each on a port of its own, nginx in front (X-Forwarded-For from it names the client)
            env |= {"CHIRP_API_PORT": str(settings.api_port + 1 + i), "CHIRP_TRUSTED_PROXIES": "127.0.0.1"}
        children.append(Child(f"api-{i + 1}", [*python, "api"], env))
    if kernel:
        return children
    nginx = proxy_command(settings, [settings.api_port + 1 + i for i in range(apis)])
    children.append(Child("nginx", nginx, dict(os.environ)))
    return children


def proxy_command(settings: Settings, ports: list[int]) -> list[str]:
    """The command of nginx on the API port in front of API processes on `ports` (its config, written here, and
    its state in the state folder)."""
    if shutil.which("nginx") is None:
        apt_install("nginx")
    home = settings.state_dir / "nginx"
    for sub in ("logs", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    conf = home / "nginx.conf"
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in ports)
    text = Template(TEMPLATE.read_text()).substitute(
        user="user root;" if os.geteuid() == 0 else "", home=home, servers=servers,
        listen=f"{settings.api_host}:{settings.api_port}",
    )  # fmt: skip
    conf.write_text(text)
    return ["nginx", "-p", str(home), "-c", str(conf), "-g", "daemon off;"]


def supervise(children: list[Child], echo: Callable[[str], None], poll_s: float = 0.5) -> None:
    """Starts every child and starts again one that exits, until interrupted; then stops them all."""
    for c in children:
        c.start()
        echo(f"{c.name} started (pid {c.proc.pid if c.proc else '?'})")
    try:
        while True:
            time.sleep(poll_s)
            for c in children:
                if c.proc is not None and (code := c.proc.poll()) is not None:
                    echo(f"{c.name} exited ({code}); starting it again in {RESTART_AFTER_S:.0f}s")
                    time.sleep(RESTART_AFTER_S)
                    c.start()
    except KeyboardInterrupt:
        pass
    finally:
        for c in reversed(children):
            c.stop()
