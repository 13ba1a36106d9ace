"""`chirp run --apis N`: nginx in front of N processes on ports of their own, or N processes on the API port."""

from __future__ import annotations

import pytest

from infra.settings import Settings
from ops import topology
from ops.topology import plan


@pytest.fixture(autouse=True)
def no_nginx_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topology, "proxy_command", lambda settings, ports: ["nginx", *map(str, ports)])


def test_nginx_fronts_processes_on_ports_of_their_own() -> None:
    children = plan(Settings(api_port=8000, api_metrics_port=9101), workers=1, apis=2)
    assert [c.name for c in children] == ["worker-1", "api-1", "api-2", "nginx"]
    apis = [c for c in children if c.name.startswith("api-")]
    assert [c.env["CHIRP_API_PORT"] for c in apis] == ["8001", "8002"]
    assert [c.env["CHIRP_API_METRICS_PORT"] for c in apis] == ["9101", "9102"]
    assert all(c.env["CHIRP_TRUSTED_PROXIES"] == "127.0.0.1" for c in apis)
    assert children[-1].command == ["nginx", "8001", "8002"]


def test_the_kernel_balancer_puts_every_process_on_the_api_port() -> None:
    settings = Settings(api_port=8000, api_metrics_port=9101, api_balancer="kernel", trusted_proxies="")
    children = plan(settings, workers=0, apis=2)
    assert [c.name for c in children] == ["api-1", "api-2"]  # no proxy
    for i, c in enumerate(children):
        assert c.env["CHIRP_API_PORT"] == "8000" and c.env["CHIRP_API_REUSE_PORT"] == "true"
        assert c.env["CHIRP_API_METRICS_PORT"] == str(9101 + i)
        assert c.env["CHIRP_TRUSTED_PROXIES"] == ""  # clients connect directly: their own address counts


def test_one_api_process_needs_no_balancer() -> None:
    children = plan(Settings(api_balancer="kernel"), workers=1, apis=1)
    assert [c.name for c in children] == ["worker-1", "api"]
    assert children[1].env["CHIRP_API_REUSE_PORT"] == "False"
