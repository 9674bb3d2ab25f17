"""The web console: one static page (HTML, CSS, JS shipped with the package, no build step).

It calls the REST API with the token the user pastes; nothing is fetched from elsewhere.
"""

from importlib.resources import files

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
_ASSETS = {"console.css": "text/css", "console.js": "text/javascript",
           "charts.js": "text/javascript"}
# The page loads only its own files and talks only to this server.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _read(name: str) -> bytes:
    return files("alertflow.api").joinpath("console", name).read_bytes()


@router.get("/", response_class=HTMLResponse)
@router.get("/console", response_class=HTMLResponse)
def page() -> Response:
    """The console page; it asks for an API token and keeps it in sessionStorage."""
    return HTMLResponse(_read("index.html"), headers=_HEADERS)


@router.get("/console/{name}")
def asset(name: str) -> Response:
    """The page's stylesheet and script."""
    if name not in _ASSETS:
        raise HTTPException(404, f"no console file {name!r}")
    return Response(_read(name), media_type=_ASSETS[name], headers=_HEADERS)
