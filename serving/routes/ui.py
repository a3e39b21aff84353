"""The coder's review page at `/ui`: static HTML, CSS and ES modules from `serving/ui/`, no build step.

The page carries no data of its own; it calls the `/v1` API with the key the coder enters. Files are
served from a fixed list taken at import, so no request path can reach outside the folder.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from medcode.errors import ErrorCode, MedcodeError

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
#: Every file the page may load, by its path under /ui/.
FILES: dict[str, Path] = {p.relative_to(UI_DIR).as_posix(): p for p in sorted(UI_DIR.rglob("*"))
                          if p.is_file() and p.suffix in MEDIA_TYPES}
#: Same-origin only: the page runs no inline script and talks to no other host.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every load, so a deployed fix reaches coders on their next reload.
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("")
def ui_root() -> RedirectResponse:
    """The page lives at /ui/."""
    return RedirectResponse("/ui/", status_code=308)


@router.get("/")
def ui_index() -> FileResponse:
    """The review page."""
    return _file("index.html")


@router.get("/{path:path}")
def ui_file(path: str) -> FileResponse:
    """A stylesheet or script of the page."""
    return _file(path)


def _file(path: str) -> FileResponse:
    found = FILES.get(path)
    if found is None:
        raise MedcodeError(ErrorCode.NOT_FOUND, what="page file", id=path)
    return FileResponse(found, media_type=MEDIA_TYPES[found.suffix], headers=HEADERS)
