"""What `serve` does to the process before it takes traffic."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.server.serve import _freeze_start_up_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_start_up_objects_are_kept_out_of_full_collections() -> None:
    built_at_start = [{"n": n} for n in range(1000)]
    _freeze_start_up_objects()
    # Everything alive at start-up (this test's objects too) sits in the permanent
    # generation, which full collections no longer walk.
    assert gc.get_freeze_count() >= len(built_at_start)
    assert gc.get_count()[2] == 0
