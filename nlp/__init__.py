"""medcode's spaCy layer and engine: `from nlp import Coder`, then `Coder.load().suggest(text)`.

Import-light on purpose: spaCy, torch and faiss load only when `Coder` (or `nlp.pipeline.build_pipeline`,
or a component module) is first used. Rule data lives in `nlp/resources/*.json`, each file with a
"version" key.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlp.coder import Coder

__all__ = ["Coder", "load_resource"]


def __getattr__(name: str) -> Any:
    if name == "Coder":
        from nlp.coder import Coder

        return Coder
    raise AttributeError(name)


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return files("nlp").joinpath("resources", name).read_text(encoding="utf-8")


def load_resource(name: str) -> dict[str, Any]:
    """A fresh copy of the JSON resource `nlp/resources/<name>`; it must carry a "version" key."""
    data = json.loads(_read(name))
    if not isinstance(data, dict) or "version" not in data:
        raise ValueError(f"nlp/resources/{name} has no 'version' key")
    return data
