"""Fixtures shared by every test module."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from retrieval import Retriever

REPO = Path(__file__).resolve().parent.parent
# ZHDOCQA_SHARED points elsewhere, e.g. from a git worktree that has no ../shared beside it.
SHARED = Path(os.environ.get("ZHDOCQA_SHARED") or REPO.parent / "shared")

# Retriever() keeps the seeds' index in the user's cache folder (platformdirs reads XDG_CACHE_HOME), and the
# command-line edges in $ZHDOCQA_CACHE_DIR: point both, for this process and its children, at a folder of
# the test run, so that no test writes to the real user cache.
_CACHE = tempfile.mkdtemp(prefix="zhdocqa-tests-")
os.environ["XDG_CACHE_HOME"] = os.path.join(_CACHE, "xdg-cache")
os.environ["ZHDOCQA_CACHE_DIR"] = os.path.join(_CACHE, "zhdocqa-cache")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_CACHE, "xdg-config")
os.environ.pop("ZHDOCQA_CORPUS", None)
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


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
