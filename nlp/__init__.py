"""medcode's spaCy layer and engine: `from nlp import Coder`, then `Coder.load().suggest(text)`.

Import-light on purpose: spaCy, torch and faiss load only when `Coder` (or `nlp.pipeline.build_pipeline`,
or a component module) is first used. Rule data lives in `nlp/resources/*.json`, each file with a
"version" key, read by `nlp.rules.load_resource`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlp.coder import Coder

__all__ = ["Coder"]


def __getattr__(name: str) -> Any:
    if name == "Coder":
        from nlp.coder import Coder

        return Coder
    raise AttributeError(name)
