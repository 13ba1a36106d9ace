"""`python -m api` refuses a worker count that would make duplicate ids."""

from __future__ import annotations

import pytest

from api.__main__ import check_workers
from infra.settings import Settings


def test_one_node_id_is_for_one_worker() -> None:
    check_workers(Settings(api_workers=1, node_id=5))
    check_workers(Settings(api_workers=2, node_id=None))
    with pytest.raises(SystemExit, match="CHIRP_NODE_ID=5 with CHIRP_API_WORKERS=2"):
        check_workers(Settings(api_workers=2, node_id=5))
