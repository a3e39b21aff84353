"""The clinical rule data of the spaCy components: versioned JSON files under `nlp/resources/`."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return files("nlp").joinpath("resources", name).read_text(encoding="utf-8")


def load_resource(name: str) -> dict[str, Any]:
    """A fresh copy of the JSON resource `nlp/resources/<name>`; it must carry a "version" key."""
    data = json.loads(_read(name))
    if not isinstance(data, dict) or "version" not in data:
        raise ValueError(f"nlp/resources/{name} has no 'version' key")
    return data
