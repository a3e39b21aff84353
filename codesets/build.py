"""The code-set index build (`medcode index build`): gather code sets, encoder and usage corpus; build when stale."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codesets import index as code_index
from codesets import knowledge
from codesets.encoder import Encoder
from codesets.registry import load_codeset
from codesets.types import CodeSet
from codesets.words import CodeWords
from codesets.usage import CodedNote, Usage, mine, read_codiesp
from medcode.settings import Settings
from medcode.types import ICD10_SYSTEMS, System


def coded_corpus(settings: Settings) -> list[CodedNote]:
    """The coded notes usage is learnt from: the CodiEsp splits of `settings.corpus_splits` that are
    present, in that order (similar notes are looked up by this order)."""
    notes: list[CodedNote] = []
    for split in corpus_splits(settings):
        notes.extend(read_codiesp(settings.corpus_dir / split, split=split))
    return notes


def corpus_splits(settings: Settings) -> list[str]:
    """The splits of `settings.corpus_splits` whose folder exists."""
    return [s for s in settings.corpus_splits if (settings.corpus_dir / s).exists()]


def usage_from_corpus(settings: Settings, codesets: dict[System, CodeSet],
                      corpus: list[CodedNote] | None = None) -> Usage | None:
    """Code frequencies and phrase rules mined from the coded corpus, if there is one."""
    notes = coded_corpus(settings) if corpus is None else corpus
    if not notes:
        return None
    splits = "+".join(corpus_splits(settings))
    return mine(notes, related=CodeWords(codesets), source=f"CodiEsp {splits} ({settings.corpus_dir})")


def background_texts(settings: Settings) -> list[str]:
    """The uncoded notes that shape the note classifier's vocabulary (none when the folder is missing)."""
    folder = settings.classifier.background
    folder = folder if folder.is_absolute() else settings.corpus_dir / folder
    return [p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.txt"))] if folder.is_dir() else []


def classifier_params(settings: Settings) -> dict[str, float]:
    """`codesets.classifier.fit`'s keyword arguments from the settings."""
    return settings.classifier.model_dump(include={"c", "min_notes"})


def gather_inputs(settings: Settings) -> code_index.Inputs:
    """Everything an index is built from, loaded."""
    codesets = {s: load_codeset(s) for s in ICD10_SYSTEMS}
    for system, path in settings.code_files.items():
        codesets[system] = load_codeset(system, path)
    corpus = coded_corpus(settings)
    sources = settings.index.knowledge
    known = [t for cs in codesets.values() for t in code_index.code_terms(cs)] if sources else []
    return code_index.Inputs(codesets, Encoder.from_settings(settings), usage_from_corpus(settings, codesets, corpus),
                             tuple(corpus), tuple(background_texts(settings)), classifier_params(settings),
                             tuple(knowledge.terms(codesets, sources, known=known)), knowledge.stamp(sources),
                             tuple(corpus_splits(settings)))


def build_index(settings: Settings, *, force: bool = False, console: Console | None = None) -> tuple[Path, bool]:
    """Build the index under `settings.data_dir / "index"` unless it is up to date; True when built."""
    console = console or Console(stderr=True)
    path = settings.data_dir / "index"
    inputs = gather_inputs(settings)
    built = force or code_index.is_stale(path, inputs)
    if built:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(system: str, done: int, total: int) -> None:
                if system not in tasks:
                    tasks[system] = bar.add_task(f"encoding {system}", total=total)
                bar.update(tasks[system], completed=done)

            code_index.build(path, inputs, progress=progress)
    # The note encoder's ONNX export and int8 copy, made now (if not made yet) rather than during the first start-up.
    Encoder.from_settings(settings, notes=True)
    return path, built
