"""What every `medcode` command shares: the stderr console, the one-line error exit, files and the store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings

err = Console(stderr=True)


def fail(error: MedcodeError) -> typer.Exit:
    """Print one clear line for a known error and give the exit to raise."""
    err.print(f"error {error.code.value}: {error}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def read_file(path: Path) -> bytes:
    """A file's bytes, or E040 naming a path that is not a file."""
    if not path.is_file():
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"No such file: {path}")
    return path.read_bytes()


def open_store():  # noqa: ANN201 - Store, imported late: the store's SQLAlchemy stays off the engine commands
    """The service's store, as the settings name it."""
    from serving.store import Store

    return Store.from_settings(get_settings())
