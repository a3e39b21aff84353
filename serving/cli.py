"""The `medcode` command line (`medcode --help` lists every command with its flags).

Coding notes: suggest, batch (`--ray` for a cluster), validate. The code-set index: index build, index
status. Accuracy and learning: eval codiesp, tune, train, distill. The HTTP service: serve; its store's
commands (keys, purge, export, remit import) are in `serving/cli_store.py`.

Errors a user can meet print one line (`error E001: The note is empty.`) and exit non-zero.
Note text never reaches a log line or an error message.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from serving import cli_store
from serving.cli_common import err, fail, read_file

app = typer.Typer(help="medcode: ranked ICD-10-CM / ICD-10-PCS suggestions with evidence.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
index_app = typer.Typer(help="Build or inspect the code-set index.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure accuracy on a coded corpus.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
app.add_typer(cli_store.keys_app, name="keys")
app.add_typer(cli_store.remit_app, name="remit")
app.command()(cli_store.purge)
app.command("export")(cli_store.export_claim)

TopOpt = Annotated[Optional[int], typer.Option("--top", min=1, help="How many suggestions per note (default 50).")]
NegatedOpt = Annotated[Optional[str], typer.Option("--negated", help="drop or flag negated / family codes.")]


@app.callback()
def _settings() -> None:
    # Every command reads the MEDCODE_* settings: a bad value is one clear line, not a traceback.
    from pydantic import ValidationError

    try:
        get_settings()
    except ValidationError as e:
        first = e.errors()[0]
        name = "MEDCODE_" + "__".join(str(part).upper() for part in first["loc"])
        detail = f"{name}: {first['msg']} (got {first.get('input')!r})"
        raise fail(MedcodeError(ErrorCode.BAD_INPUT, detail=detail)) from None


def _coder():
    from nlp.coder import Coder
    from serving.startup import settle_gc

    coder = Coder.load()
    settle_gc()
    return coder


def _check_negated(value: str | None) -> None:
    if value not in (None, "drop", "flag"):
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="--negated must be 'drop' or 'flag'.")


class Setting(str, Enum):
    inpatient = "inpatient"
    outpatient = "outpatient"


class Sex(str, Enum):
    male = "male"
    female = "female"
    unknown = "unknown"


@app.command()
def suggest(
    file: Annotated[str, typer.Argument(help="A note as a UTF-8 text file, or - for standard input.")],
    top: TopOpt = None,
    system: Annotated[Optional[list[str]], typer.Option("--system", help="Only these systems.")] = None,
    negated: NegatedOpt = None,
    encounter: Annotated[Optional[Path], typer.Option(
        "--encounter", help="The encounter as JSON: {setting, date_of_service, patient: {age, sex}}.")] = None,
    setting: Annotated[Optional[Setting], typer.Option("--setting", help="inpatient (default) or outpatient.")] = None,
    age: Annotated[Optional[int], typer.Option("--age", min=0, max=130, help="Patient age in years.")] = None,
    sex: Annotated[Optional[Sex], typer.Option("--sex", help="Patient sex.")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="Date of service (discharge), YYYY-MM-DD.")] = None,
) -> None:
    """Print the suggestions for one note and its proposed coding as JSON."""
    from nlp.note import check_note, decode_note
    from serving.proposals import context_from, propose_many, read_context

    try:
        _check_negated(negated)
        options = {"setting": setting.value if setting else None, "age": age, "sex": sex.value if sex else None,
                   "date_of_service": date}
        context = (read_context(read_file(encounter), str(encounter), **options) if encounter is not None
                   else context_from(None, "options", **options))
        raw = sys.stdin.buffer.read() if file == "-" else read_file(Path(file))
        text = decode_note(raw)
        check_note(text, limit=get_settings().max_note_chars)
        (proposal,) = propose_many(_coder(), [text], [context], top=top, systems=system, negated=negated)
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps(proposal.as_dict(), ensure_ascii=False, indent=2))


@app.command("validate")
def validate_encounter(
    file: Annotated[str, typer.Argument(help="An encounter as JSON, or - for standard input.")],
) -> None:
    """Print the encounter's findings and MS-DRG as JSON; exit 1 when a finding is an error."""
    from validation.report import has_errors, read_encounter, report

    try:
        raw = sys.stdin.buffer.read() if file == "-" else read_file(Path(file))
        body = report(read_encounter(raw, "standard input" if file == "-" else file))
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps(body, ensure_ascii=False, indent=2))
    if has_errors(body["findings"]):
        raise typer.Exit(code=1)


@app.command()
def batch(
    input: Annotated[Path, typer.Argument(help="A directory of .txt notes, a JSONL file of {id, text}, or (with "
                                                "--ray) Parquet with id and text columns.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write one JSON line per note.")],
    top: TopOpt = None,
    negated: NegatedOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip ids already in OUT; append the rest.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    codiesp_form: Annotated[bool, typer.Option("--codiesp-form", help="Also each note's codes as CodiEsp ranks "
                                               "them (shorter forms coders may have written included), to "
                                               "score the output on CodiEsp; with --negated flag as it counts "
                                               "negated findings.")] = False,
    ray: Annotated[Optional[str], typer.Option(
        "--ray", is_flag=False, flag_value="env", metavar="[ADDRESS]",
        help="Code on a Ray cluster: its head's host:port, `auto`, or nothing for MEDCODE_RAY_ADDRESS.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="With --ray: most actors (0: one per CPU).")] = 0,
) -> None:
    """Code many notes; bad notes go to OUT.errors.jsonl and the rest goes on."""
    try:
        _check_negated(negated)
        if ray is None:
            from serving.batch import run_batch

            summary = run_batch(input, out, coder_factory=_coder, top=top, negated=negated, resume=resume,
                                batch_size=batch_size, codiesp_form=codiesp_form, console=err)
        else:
            from serving.raybatch import run_ray_batch

            if codiesp_form:
                raise MedcodeError(ErrorCode.BAD_INPUT, detail="--codiesp-form is for the local batch, not --ray.")
            address = get_settings().ray_address if ray == "env" else ray
            if not address:
                raise MedcodeError(ErrorCode.BAD_INPUT, detail="--ray needs an ADDRESS or MEDCODE_RAY_ADDRESS.")
            summary = run_ray_batch(input, out, address=address, workers=workers or get_settings().ray_workers,
                                    top=top, negated=negated, resume=resume, batch_size=batch_size, console=err)
    except MedcodeError as e:
        raise fail(e) from None
    err.print(f"{summary.done} notes coded, {summary.failed} failed, {summary.skipped} skipped "
              f"in {summary.seconds:.1f} s ({summary.rate:.2f} notes/s) -> {out}")
    if ray is not None:
        err.print(f"on Ray: {summary.workers} workers, {len(summary.nodes)} nodes, "  # type: ignore[attr-defined]
                  f"peak worker memory {summary.worker_peak_mib / 1024:.2f} GiB")  # type: ignore[attr-defined]
    if summary.failed and not summary.done and not summary.skipped:
        raise typer.Exit(code=1)


@index_app.command("build")
def index_build(force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False) -> None:
    """Encode the code sets into the faiss index (minutes; rebuilt only when inputs change)."""
    from codesets.build import build_index

    try:
        path, built = build_index(get_settings(), force=force, console=err)
    except MedcodeError as e:
        raise fail(e) from None
    err.print(f"index {'built' if built else 'up to date'}: {path}")


@index_app.command("status")
def index_status() -> None:
    """Print the index manifest: releases, encoder, when built."""
    manifest = get_settings().data_dir / "index" / "manifest.json"
    if not manifest.exists():
        raise fail(MedcodeError(ErrorCode.INDEX_MISSING, path=manifest.parent))
    print(manifest.read_text())


@eval_app.command("codiesp")
def eval_codiesp(
    split: Annotated[str, typer.Option("--split", help="train or dev")] = "dev",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N notes.")] = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report", help="Write report.md + PNG plots here "
                                                       "(before/after training, misses).")] = None,
    before: Annotated[Optional[Path], typer.Option("--before", help="Baseline figures JSON for the report "
                                                   "(default: the one `medcode train` kept, else the hand-set "
                                                   "ranking measured now).")] = None,
    folder: Annotated[Optional[Path], typer.Option("--dir", help="Any folder in CodiEsp layout instead of a split: "
                                                   "text_files_en/*.txt, *D.tsv, *P.tsv (id, code).")] = None,
    cv: Annotated[Optional[int], typer.Option("--cv", min=2, help="K-fold cross-validation over train and dev: "
                                              "usage, similar notes, classifier and ranker refitted per fold "
                                              "(slow: the ranker's rows are built for every note).")] = None,
) -> None:
    """Print MAP for diagnoses and procedures on CodiEsp (English); --report also writes the report."""
    from codesets.usage import read_codiesp
    from training.evaluate import evaluate, fitted_splits, held_out, report_codiesp
    from training.train import baseline_path

    settings = get_settings()
    if cv is not None:
        from training.crossval import cross_validate

        try:
            print(json.dumps(cross_validate(settings, folds=cv, console=err), indent=2))
        except MedcodeError as e:
            raise fail(e) from None
        return
    split_dir = folder or settings.corpus_dir / split
    known_split = folder is not None or split in ("train", "dev")
    if not known_split or not (split_dir / "text_files_en").is_dir():
        raise fail(MedcodeError(ErrorCode.CORPUS_MISSING, path=split_dir))
    if folder is not None and report_dir is not None:
        raise fail(MedcodeError(ErrorCode.BAD_INPUT, detail="--report reads a CodiEsp split, not --dir."))
    notes = read_codiesp(split_dir, split=None if folder else split)[:limit]
    if not notes:
        raise fail(MedcodeError(ErrorCode.CORPUS_MISSING, path=split_dir / "text_files_en"))
    try:
        if report_dir is not None:
            report_codiesp(settings, report_dir, split=split, limit=limit, console=err,
                           before=before or baseline_path(settings, split))
            return
        # A split the index and ranker learnt from is measured against models fitted without it.
        with held_out(_coder(), None if folder else split) as coder:
            report = evaluate(coder, notes, split=str(folder) if folder else split)
            ranker_fitted_on = fitted_splits(coder)
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps({
        "split": report.split, "notes": report.notes, "fitted_on": ranker_fitted_on,
        "map_diagnoses": round(report.diagnoses.map, 4), "map_procedures": round(report.procedures.map, 4),
        "documents": {"diagnoses": report.diagnoses.documents, "procedures": report.procedures.documents},
        "seconds": round(report.seconds, 1), "notes_per_second": round(report.notes / report.seconds, 2),
    }, indent=2))


DecisionsOpt = Annotated[Optional[list[Path]], typer.Option(
    "--decisions", help="Coder decisions JSONL (the API's export) to learn from; repeatable.")]


class TuneOn(str, Enum):
    train = "train"
    dev = "dev"


@app.command()
def tune(decisions: DecisionsOpt = None,
         tune_on: Annotated[Optional[TuneOn], typer.Option(
             "--tune-on", help="train (default): trees and calibration chosen out of fold on the fitted notes; "
             "dev: early-stopped and calibrated on dev (with MEDCODE_CORPUS_SPLITS='[\"train\"]' only).")] = None,
         ) -> None:
    """Fit the reranker (out of fold) and its calibration on the CodiEsp splits of MEDCODE_CORPUS_SPLITS (train
    and dev; train alone also measures it on dev); writes data/models/ranker/<version>/ (the newest is loaded)."""
    from training.tune import tune_ranker

    settings = get_settings()
    if tune_on is not None:
        rerank = settings.rerank.model_copy(update={"tune_on": tune_on.value})
        settings = settings.model_copy(update={"rerank": rerank})
    try:
        tuned = tune_ranker(settings, decisions=tuple(decisions or ()), console=err)
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps({"ranker": str(tuned.path), **tuned.metrics}, indent=2))


@app.command()
def train(
    skip_encoder: Annotated[bool, typer.Option("--skip-encoder", help="Keep the current encoder and index.")] = False,
    skip_distill: Annotated[bool, typer.Option("--skip-distill", help="Keep the current query encoder.")] = False,
    decisions: DecisionsOpt = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report", help="Where the evaluation report goes "
                                                       "(default data_dir/reports/train).")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the baseline and the report.")] = False,
    train_limit: Annotated[Optional[int], typer.Option("--train-limit", min=10, hidden=True)] = None,
    dev_limit: Annotated[Optional[int], typer.Option("--dev-limit", min=10, hidden=True)] = None,
) -> None:
    """Train everything: encoder, index, reranker, calibration, then the evaluation report."""
    from training.train import TrainOptions
    from training.train import train as run_training

    settings = get_settings()
    report = None if no_report else (report_dir or settings.data_dir / "reports" / "train")
    options = TrainOptions(skip_encoder=skip_encoder, skip_distill=skip_distill, decisions=tuple(decisions or ()),
                           report=report, train_limit=train_limit, dev_limit=dev_limit)
    try:
        result = run_training(settings, options, console=err)
    except MedcodeError as e:
        raise fail(e) from None
    print(json.dumps({"steps": [{"step": s.name, "seconds": round(s.seconds, 1), "detail": s.detail}
                                for s in result.steps],
                      "encoder": str(result.encoder) if result.encoder else None,
                      "query_encoder": str(result.query_encoder) if result.query_encoder else None,
                      "ranker": str(result.ranker), "report": str(result.report) if result.report else None,
                      "metrics": result.metrics}, indent=2))


@app.command()
def distill(
    budget_min: Annotated[Optional[float], typer.Option("--budget-min", min=0.1, help="Minutes of training "
                                                        "(default settings.distill.budget_s).")] = None,
    layers: Annotated[Optional[str], typer.Option("--layers", help="Teacher layers the student keeps, e.g. "
                                                  "0,3,5 (default settings.distill.layers).")] = None,
) -> None:
    """Distil a fewer-layer query encoder for note clauses from the index's encoder; writes
    data/models/query-encoder/<version>/."""
    from training.distill import distill_from_settings

    try:
        try:
            kept = [int(x) for x in layers.split(",")] if layers else None
        except ValueError:
            raise MedcodeError(ErrorCode.BAD_INPUT, detail="--layers must be comma-separated layer numbers, "
                               "e.g. 0,3,5.") from None
        with err.status("distilling the query encoder …"):
            path = distill_from_settings(get_settings(), budget_s=None if budget_min is None else budget_min * 60,
                                         layers=kept)
    except MedcodeError as e:
        raise fail(e) from None
    card = json.loads((path / "card.json").read_text(encoding="utf-8"))
    print(json.dumps({"query_encoder": str(path), "layers": card["layers"], "metrics": card["metrics"]}, indent=2))


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", min=1, max=65535, help="Port (default 8000).")] = None,
) -> None:
    """Start the HTTP API (index and models load at start; SQLite store unless MEDCODE_DATABASE_URL)."""
    import uvicorn

    from serving.app import create_app

    settings = get_settings()
    try:
        application = create_app(settings)
    except MedcodeError as e:
        raise fail(e) from None
    uvicorn.run(application, host=host or settings.serving.host, port=port or settings.serving.port,
                log_level="info", proxy_headers=False)


if __name__ == "__main__":
    app()
