"""The API docs, for logged-in users only (the schema describes every route).

Swagger UI's script and styles are served by the app itself (from the pinned fastapi-offline
package, which carries a Swagger UI 5 build): /docs works on a network without internet, and the
page's Content-Security-Policy needs no outside origin."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from remediation_app.api.deps import optional_user
from remediation_app.models import User

router = APIRouter(include_in_schema=False)

ASSETS_PATH = "/docs/assets"
# The only files served from the package: nothing else in it is reachable by name.
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
# The package version is pinned, so a file never changes under a URL: cache for a day.
_CACHE = "public, max-age=86400"


def _asset_bytes(name: str) -> bytes:
    return (resources.files("fastapi_offline") / "static" / name).read_bytes()


@router.get("/openapi.json")
async def openapi_schema(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> JSONResponse:
    if user is None:
        raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger_ui(user: Annotated[User | None, Depends(optional_user)]) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/docs", status_code=303)
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Remediation Engine API",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
    )


@router.get(ASSETS_PATH + "/{name}")
async def swagger_asset(name: str) -> Response:
    """Public like any page's script: the files are Swagger UI's own, the same for everyone."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="no such asset")
    return Response(_asset_bytes(name), media_type=media_type, headers={"Cache-Control": _CACHE})


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
