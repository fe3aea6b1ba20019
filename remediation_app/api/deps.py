"""What routes depend on: the database session, and who is calling (the bearer token of API
clients or the session cookie of the browser) from where."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection

from remediation_app.db import async_session
from remediation_app.models import Role, User
from remediation_app.services import security
from remediation_app.services.auth import SESSION_COOKIE, user_for_token
from remediation_app.settings import get_settings

# Ids are INTEGER columns: a larger value cannot be an id, and PostgreSQL refuses it as a parameter.
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

# Declares the scheme in OpenAPI ("Authorize" in /docs); the token may also come from the cookie.
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def db_session() -> AsyncIterator[AsyncSession]:
    """The route's database session. It connects at its first query, so a database that cannot be
    reached raises in the route: the app's handler answers 503 (api/errors.py)."""
    async with async_session() as session:
        yield session


# Closed when the route returns, before the answer is sent: a streamed download holds no connection.
SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]


def client_address(connection: HTTPConnection) -> str:
    """The caller's address (a request's or a WebSocket's); X-Forwarded-For is believed only with
    TRUST_PROXY_HEADERS=true."""
    peer = connection.client.host if connection.client else None
    return security.client_address(peer=peer, forwarded_for=connection.headers.get("x-forwarded-for"))


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
