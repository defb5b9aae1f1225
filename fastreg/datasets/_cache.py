"""The per-user cache folder (one rule, read by the finder, the verifier and ``_unpack``)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir(subdir: str = "mnist") -> Path:
    """The per-user cache folder of a data set: ``$XDG_CACHE_HOME/fastreg/<subdir>``
    (``~/.cache/fastreg/<subdir>`` when XDG_CACHE_HOME is unset or not absolute, as the XDG
    spec says)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "fastreg" / subdir
