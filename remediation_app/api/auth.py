"""Login and logout: bearer tokens for API clients, an HttpOnly cookie for the browser."""

from __future__ import annotations

import json
import logging
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.deps import CurrentUser, SessionDep, client_address, is_https, optional_user
from remediation_app.api.errors import error, refusals
from remediation_app.api.origins import headers_origin_ok
from remediation_app.api.schemas import StatusPublic, TokenPublic, UserPublic
from remediation_app.api.webhook import BodyTooLarge, read_body
from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.models import User
from remediation_app.services import auth, users
from remediation_app.services.auth import SESSION_COOKIE
from remediation_app.services.events import bus
from remediation_app.services.known_clients import DEVICE_COOKIE, DEVICE_COOKIE_PATH
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
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
    """Browser form posts must come from our own pages (a cross-site form cannot log anyone in or out).

    A request without an Origin is not a browser's (they send one on every POST): an API client,
    allowed here; with the session cookie the OriginGuard middleware has refused it already."""
    if request.headers.get("origin") is None:
        return True
    return headers_origin_ok(request.headers)


@router.post(
    "/token",
    response_model=TokenPublic,
    summary="Exchange a username and password for a bearer token (API clients)",
    responses=refusals({401: "Wrong credentials", 429: "Throttled", 503: "Busy"}),
)
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenPublic | JSONResponse:
    try:
        user = await auth.login(
            username=form.username,
            password=form.password,
            address=client_address(request),
            device=_device(request),
        )
    except auth.LoginError as exc:
        return _refusal(exc)
    value, claims = auth.new_token(user)
    return TokenPublic(access_token=value, expires_at=claims.expires_at)


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
        user = await auth.login(
            username=username, password=password, address=client_address(request), device=_device(request)
        )
    except auth.LoginError as exc:
        reason = {auth.LoginThrottled: "throttled", auth.LoginBusy: "busy"}.get(type(exc), "invalid")
        return RedirectResponse(f"/login?error={reason}&next={quote(target, safe='/')}", status_code=303)
    value, _claims = auth.new_token(user)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, value)
    await give_device_cookie(response, request, user)
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


def _device(request: Request) -> str | None:
    """The device cookie the browser sent (checked by the login service, never trusted as is)."""
    return request.cookies.get(DEVICE_COOKIE)


async def give_device_cookie(response: Response, request: Request, user: User) -> None:
    """After a browser proved the password: a new device cookie, so that its next logins are told
    apart from strangers' (docs/security.md, "Login throttling"). A database error here costs
    the browser only the cookie, not the login."""
    try:
        value = await auth.remember_browser(user, device=_device(request))
    except TRANSIENT_DB_ERRORS:
        log.warning("device cookie not issued: database unavailable")
        return
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=get_settings().login_device_days * 24 * 60 * 60,
        path=DEVICE_COOKIE_PATH,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )


@router.post(
    "/logout", response_model=StatusPublic, summary="Revoke every token of the current user and clear the cookie"
)
async def logout(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> Response:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site logout refused")
    browser = "text/html" in request.headers.get("accept", "")
    if user is None and not browser:
        raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Bearer"})
    if user is not None:
        await auth.logout(user, address=client_address(request))
        await bus.publish(USERS_TOPIC)  # the user's other tabs go to the login page now, not at the next check
    # A browser whose login already expired still gets its cookie cleared and the login page.
    done = StatusPublic(status="logged out")
    response = RedirectResponse("/login", status_code=303) if browser else JSONResponse(done.model_dump())
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    if browser:
        # The tab's page state is kept on the server under a token in sessionStorage: dropping the
        # storage gives the next login in this tab a fresh token (and nothing of this user's pages).
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@router.get("/me", response_model=UserPublic, summary="The current user")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


# ---- changing one's own password ----------------------------------------------------------------

# Two passwords of at most 1024 characters (4 bytes each in UTF-8, 6 as a JSON escape) fit easily.
MAX_PASSWORD_BODY = 16 * 1024
# Published after a user's password changes: that user's other live tabs re-check their login now
# (the same topic as state.USERS_TOPIC; the API does not import the Reflex states).
USERS_TOPIC = "users"
PASSWORD_BODY_SCHEMA = {
    "type": "object",
    "required": ["current_password", "new_password"],
    "properties": {
        "current_password": {"type": "string", "format": "password", "maxLength": users.MAX_PASSWORD},
        "new_password": {
            "type": "string",
            "format": "password",
            "minLength": users.MIN_PASSWORD,
            "maxLength": users.MAX_PASSWORD,
        },
    },
}


class BadPasswordInput(ValueError):
    """A body that is not the expected fields as text (its content is never repeated back)."""


def _password_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The string fields of a JSON object or an urlencoded form; BadPasswordInput otherwise."""
    try:
        if content_type == "application/json":
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict):
                raise BadPasswordInput
            return {k: v for k, v in data.items() if isinstance(v, str)}
        if content_type == "application/x-www-form-urlencoded":
            parsed = parse_qs(body.decode("utf-8"), max_num_fields=10, encoding="utf-8", errors="strict")
            return {k: v[0] for k, v in parsed.items() if len(v) == 1}
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError, too many fields, too deep
        raise BadPasswordInput from None
    raise BadPasswordInput


async def _change(session: AsyncSession, user: User, current: str, new: str, request: Request) -> User:
    """Change the password (services.users), commit, announce; the user with the new token version."""
    changed = await users.change_own_password(
        session, user, current, new, client_address(request), device=_device(request)
    )
    await session.commit()
    await bus.publish(USERS_TOPIC)  # the user's other open tabs are sent to the login page now
    return changed


@router.post(
    "/password",
    summary="Change your own password (every token of yours is revoked, this one included)",
    description=(
        'JSON body `{"current_password", "new_password"}`. On success (204) every existing token '
        "and browser session of the caller stops working, including the token that made this call: "
        "get a new one from POST /api/auth/token with the new password. A wrong current password "
        "counts as a failed login attempt (401; 429 once throttled)."
    ),
    status_code=204,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": PASSWORD_BODY_SCHEMA}}}
    },
    responses={
        204: {"description": "Changed; the caller's tokens are revoked"},
        401: {"description": "Not logged in, or the current password is wrong"},
        403: {"description": "Posted from another site"},
        413: {"description": "Body too large"},
        415: {"description": "Not a JSON body"},
        422: {"description": "The new password breaks a rule, or a field is missing"},
        429: {"description": "Throttled"},
        503: {"description": "Busy"},
    },
)
async def change_password(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site request refused")
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/json":
        return error(415, "send a JSON body")
    try:
        fields = _password_fields(await read_body(request, MAX_PASSWORD_BODY), content_type)
    except BodyTooLarge:
        return error(413, f"body larger than {MAX_PASSWORD_BODY} bytes")
    except BadPasswordInput:
        return error(422, "the body must be a JSON object with current_password and new_password")
    current, new = fields.get("current_password"), fields.get("new_password")
    if current is None or new is None:
        return error(422, "current_password and new_password (strings) are required")
    try:
        await _change(session, user, current, new, request)
    except users.UserError as exc:
        return error(422, str(exc))
    except auth.LoginInvalid:
        return JSONResponse(
            {"error": "the current password is wrong"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    except auth.LoginError as exc:
        return _refusal(exc)
    return Response(status_code=204)


# What the account page is told after its form (a short code, never the input).
_FORM_ERRORS: dict[type[Exception], str] = {
    auth.LoginInvalid: "invalid",
    auth.LoginThrottled: "throttled",
    auth.LoginBusy: "busy",
}


def _back_to_account(code: str) -> RedirectResponse:
    return RedirectResponse(f"/account?error={code}", status_code=303)


@router.post("/password/form", summary="Browser form: change your own password", include_in_schema=False)
async def browser_change_password(
    request: Request, user: Annotated[User | None, Depends(optional_user)], session: SessionDep
) -> Response:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site password change refused")
    if user is None:
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/login?next=/account", status_code=303)
        raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Bearer"})
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":  # what a browser's form sends
        return _back_to_account("input")
    try:
        fields = _password_fields(await read_body(request, MAX_PASSWORD_BODY), content_type)
    except (BodyTooLarge, BadPasswordInput):
        return _back_to_account("input")
    current, new, repeat = (fields.get(k, "") for k in ("current_password", "new_password", "repeat_password"))
    if not current or not new or not repeat:
        return _back_to_account("missing")
    if new != repeat:
        return _back_to_account("mismatch")
    try:
        changed = await _change(session, user, current, new, request)
    except users.PasswordRejected as exc:
        return _back_to_account(exc.code)
    except auth.LoginError as exc:
        return _back_to_account(_FORM_ERRORS.get(type(exc), "invalid"))
    except TRANSIENT_DB_ERRORS:
        return _back_to_account("unavailable")
    # Every older token is revoked: this tab gets a fresh one and stays logged in.
    response = RedirectResponse("/account?changed=1", status_code=303)
    set_session_cookie(response, request, auth.new_token(changed)[0])
    await give_device_cookie(response, request, changed)
    return response
