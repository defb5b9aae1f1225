"""The rule for tests that need real data: skip locally, fail under FASTREG_REQUIRE_DATA=1 (CI)."""

import os

import pytest


def env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def missing_data(reason):
    """Skip the calling test, or fail it when FASTREG_REQUIRE_DATA=1 (CI must run it)."""
    if env_flag("FASTREG_REQUIRE_DATA"):
        pytest.fail(f"{reason} (FASTREG_REQUIRE_DATA=1: real-data tests must run)")
    pytest.skip(reason)
