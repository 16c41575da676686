"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval import Retriever

REPO = Path(__file__).resolve().parent.parent
# ZHDOCQA_SHARED points elsewhere, e.g. from a git worktree that has no ../shared beside it.
SHARED = Path(os.environ.get("ZHDOCQA_SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def seeds() -> Retriever:
    """The retriever over the bundled seeds, built once for the whole run."""
    return Retriever()


@pytest.fixture
def shared() -> Path:
    """The shared folder beside the checkout; tests that need it skip without it."""
    if not (SHARED / "eval" / "seed_dev.jsonl").is_file():
        pytest.skip("../shared is not beside this checkout")
    return SHARED
