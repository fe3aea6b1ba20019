"""Who is calling: the bearer token (API clients) or the session cookie (the browser)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from remediation_app.models import Role, User
from remediation_app.services.auth import SESSION_COOKIE, user_for_token
from remediation_app.services.security import forwarded_client
from remediation_app.settings import get_settings

# Declares the scheme in OpenAPI ("Authorize" in /docs); the token may also come from the cookie.
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def client_address(request: Request) -> str:
    """The caller's address; X-Forwarded-For is believed only with TRUST_PROXY_HEADERS=true."""
    if get_settings().trust_proxy_headers:
        forwarded = forwarded_client(request.headers.get("x-forwarded-for", ""))
        if forwarded:
            return forwarded
    return (request.client.host if request.client else "")[:64]


def is_https(request: Request) -> bool:
    if get_settings().trust_proxy_headers and request.headers.get("x-forwarded-proto", "").lower() == "https":
        return True
    return request.url.scheme == "https"


async def optional_user(request: Request, bearer: Annotated[str | None, Depends(oauth2)]) -> User | None:
    return await user_for_token(bearer or request.cookies.get(SESSION_COOKIE))


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Bearer"})
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != Role.ADMIN:
        raise HTTPException(status_code=403, detail="admin role required")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
