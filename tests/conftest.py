"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import Retriever

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


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
