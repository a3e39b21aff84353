"""The `medcode` commands of the service's store: API keys, purge, claims out and remittances in."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from serving.cli_common import err, fail, open_store, read_file

keys_app = typer.Typer(help="API keys of the HTTP service.", no_args_is_help=True)
remit_app = typer.Typer(help="Payers' X12 835 remittances.", no_args_is_help=True)


def purge(before: Annotated[str, typer.Option("--before", help="A date (YYYY-MM-DD, UTC) or an ISO time; "
                                              "what was created before it is deleted.")]) -> None:
    """Delete the encounters and jobs created before a date (notes, suggestions, decisions, results)."""
    from datetime import UTC, datetime

    from serving.lifecycle import purge as purge_store

    try:
        when = datetime.fromisoformat(before)
    except ValueError:
        raise fail(MedcodeError(ErrorCode.BAD_INPUT, detail=f"--before {before!r} is not a date (YYYY-MM-DD)")) \
            from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    store = open_store()
    try:
        purged = purge_store(store, when, by="cli:purge")
    finally:
        store.close()
    err.print(f"deleted {purged.encounters} encounters and {purged.jobs} jobs created before {when.isoformat()}")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="coder, admin or service.")],
    name: Annotated[str, typer.Option("--name", help="Who or what holds the key.")],
) -> None:
    """Create a key and print it once (send it as `Authorization: Bearer <key>`)."""
    from serving.security import create_key

    store = open_store()
    try:
        with store.session() as session:
            row, key = create_key(session, name=name, role=role)
            err.print(f"key {row.name!r} ({row.role}) created; it is shown once, store it now:")
    except MedcodeError as e:
        raise fail(e) from None
    finally:
        store.close()
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys: name, role, prefix, created, revoked."""
    from sqlalchemy import select

    from serving.store import ApiKey

    store = open_store()
    with store.session() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        for row in rows:
            revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "-"
            print(f"{row.name}\t{row.role}\t{row.prefix}…\t{row.created_at.isoformat(timespec='seconds')}\t"
                  f"revoked {revoked}")
    store.close()


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from serving.security import revoke_key

    store = open_store()
    try:
        with store.session() as session:
            revoke_key(session, name)
    except MedcodeError as e:
        raise fail(e) from None
    finally:
        store.close()
    err.print(f"key {name!r} revoked")


class ClaimFormat(str, Enum):
    fhir = "fhir"
    hl7 = "hl7"
    x12 = "x12"


def export_claim(
    encounter_id: Annotated[str, typer.Argument(help="medcode's id of a submitted encounter.")],
    format: Annotated[ClaimFormat, typer.Option("--format", help="fhir (R4 Claim), hl7 (v2.5.1 DFT^P03) or "
                                                "x12 (837 HI segments).")] = ClaimFormat.fhir,
) -> None:
    """Print a submitted encounter's claim coding, validated, in the format patient accounting takes."""
    from serving import claim_export, review

    store = open_store()
    try:
        with store.session() as session:
            text = claim_export.claim_of(review.get_encounter(session, encounter_id), format.value, get_settings())
    except MedcodeError as e:
        raise fail(e) from None
    finally:
        store.close()
    sys.stdout.write(text.replace("\r", "\n") + ("" if text.endswith("\n") else "\n"))


@remit_app.command("import")
def remit_import(file: Annotated[Path, typer.Argument(help="An X12 835 file.")]) -> None:
    """Import an 835: adjustments recorded, coding denials reopen their encounters; all or nothing."""
    from serving.remittances import import_835

    store = open_store()
    try:
        data = read_file(file)
        with store.session() as session:
            result = import_835(session, data, get_settings(), "cli", source=file.name)
    except MedcodeError as e:
        raise fail(e) from None
    finally:
        store.close()
    print(result.model_dump_json())
