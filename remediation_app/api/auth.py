"""Login and logout: bearer tokens for API clients, an HttpOnly cookie for the browser."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from remediation_app.api.deps import CurrentUser, client_address, is_https, optional_user
from remediation_app.models import User
from remediation_app.services import auth
from remediation_app.services.auth import SESSION_COOKIE
from remediation_app.settings import get_settings

router = APIRouter(prefix="/api/auth", tags=["auth"])
_STATUS = {auth.LoginInvalid: 401, auth.LoginThrottled: 429, auth.LoginBusy: 503}


def _refusal(exc: auth.LoginError) -> JSONResponse:
    status = _STATUS.get(type(exc), 401)
    headers = {"Retry-After": "60"} if status in (429, 503) else {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": exc.public}, status_code=status, headers=headers)


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no `//`, no backslash) is followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"  # browsers drop tabs and newlines: "/\t/evil.example" would become "//evil.example"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def same_origin(request: Request) -> bool:
    """Browser form posts must come from our own pages (a cross-site form cannot log anyone in or out)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


@router.post(
    "/token",
    summary="Exchange a username and password for a bearer token (API clients)",
    responses={
        401: {"description": "Wrong credentials"},
        429: {"description": "Throttled"},
        503: {"description": "Busy"},
    },
)
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Any:
    try:
        user = await auth.login(username=form.username, password=form.password, address=client_address(request))
    except auth.LoginError as exc:
        return _refusal(exc)
    value, claims = auth.new_token(user)
    return {"access_token": value, "token_type": "bearer", "expires_at": claims.expires_at.isoformat()}


@router.post("/login", summary="Browser login form: sets the session cookie and redirects", include_in_schema=False)
async def browser_login(
    request: Request,
    username: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2048)] = "/",
) -> Response:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site login refused")
    target = safe_next(next_path)
    try:
        user = await auth.login(username=username, password=password, address=client_address(request))
    except auth.LoginError as exc:
        reason = {auth.LoginThrottled: "throttled", auth.LoginBusy: "busy"}.get(type(exc), "invalid")
        return RedirectResponse(f"/login?error={reason}&next={quote(target, safe='/')}", status_code=303)
    value, _claims = auth.new_token(user)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, value)
    return response


def _secure(request: Request) -> bool:
    mode = get_settings().cookie_secure
    return mode == "true" or (mode == "auto" and is_https(request))


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=get_settings().access_token_minutes * 60,
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )


@router.post("/logout", summary="Revoke every token of the current user and clear the cookie")
async def logout(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> Response:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site logout refused")
    browser = "text/html" in request.headers.get("accept", "")
    if user is None and not browser:
        raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Bearer"})
    if user is not None:
        await auth.logout(user, address=client_address(request))
    # A browser whose login already expired still gets its cookie cleared and the login page.
    response = RedirectResponse("/login", status_code=303) if browser else JSONResponse({"status": "logged out"})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("/me", summary="The current user")
async def me(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username, "role": user.role}
