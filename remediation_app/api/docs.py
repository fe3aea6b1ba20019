"""The API docs, for logged-in users only (the schema describes every route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from remediation_app.api.deps import optional_user
from remediation_app.models import User

router = APIRouter(include_in_schema=False)


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
        openapi_url="/openapi.json", title="Remediation Engine API", oauth2_redirect_url="/docs/oauth2-redirect"
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
