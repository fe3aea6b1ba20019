"""An Apprise URL as the engine handles it: checked by Apprise's own parser, its kind (the scheme),
the plugin that sends through it, and masking.

An Apprise URL carries the target's secrets in any of its parts (a password, a token as the host or a
path segment, a header value in the query string), and Apprise's privacy form hides only some of them.
So `mask` replaces every part of the URL that could be one (all but the scheme, the query's names and a
dotted host name) in any text before it is stored, logged or shown: errors never carry the URL.

Apprise is imported on first use (it loads its ~190 plugins then, a third of a second): never on the
webhook's path, only where a URL is checked or a message sent. Its own log lines go nowhere: a send's
are captured per call (delivery.py) and masked.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

URL_MAX = 2048
MASK = "***"
# Shorter pieces are not masked (they would blot out every "a" and "1" of a message; no secret is that short).
MASK_MIN = 3
_PIECES = re.compile(r"[/:@?&=#,;+!$'()*\[\]\s]+")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
EXAMPLES = "json://hooks.example/alerts, slack://TokenA/TokenB/TokenC/#oncall, mailto://user:pass@mail.example"


class TargetError(ValueError):
    """An Apprise URL that cannot be used; the message never contains the URL or a part of it."""


def _apprise() -> Any:
    import apprise

    logger = logging.getLogger("apprise")
    if logger.propagate:
        # Its lines may name hosts and URL parts: not into the engine's logs (captured per send instead).
        logger.propagate = False
        logger.addHandler(logging.NullHandler())
    return apprise


@functools.cache
def _schemes() -> frozenset[str]:
    from apprise.manager_plugins import NotificationManager

    _apprise()
    manager: Any = NotificationManager()  # type: ignore[no-untyped-call]
    return frozenset(str(s).lower() for s in manager.schemas())


def kind_of(url: str) -> str:
    """The URL's scheme, lowercased ("json", "mailto", "slack"); "" when it has none."""
    found = _SCHEME.match(url.strip())
    return found.group(1).lower() if found else ""


def _keeps_host(host: str) -> bool:
    """A host name shown in errors: a DNS name with a dot or an IP address (a bare word may be a token)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return "." in host and not any(len(label) > 40 for label in host.split("."))


def secret_parts(url: str) -> list[str]:
    """Every part of the URL that may be secret, longest first: the URL itself, then its pieces (raw and
    percent-decoded) except the scheme, the query's parameter names and a host `_keeps_host` shows."""
    rest = url.split("://", 1)[1] if "://" in url else url
    keep: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.hostname and _keeps_host(parts.hostname):
            keep.add(parts.hostname.lower())
    except ValueError:
        pass
    query = rest.partition("?")[2]
    keep.update(name.lstrip("+-:") for name, _, _ in (pair.partition("=") for pair in query.split("&")))
    found = {url, rest, unquote(url), unquote(rest)}
    for piece in _PIECES.split(rest):
        for variant in (piece, unquote(piece)):
            if len(variant) >= MASK_MIN and variant.lower() not in keep and variant.lstrip("+-:") not in keep:
                found.add(variant)
    return sorted((p for p in found if len(p) >= MASK_MIN), key=len, reverse=True)


def mask(text: str, *urls: str) -> str:
    """`text` with every part of each URL that may be secret replaced by ***."""
    for url in urls:
        for part in secret_parts(url):
            if part in text:
                text = text.replace(part, MASK)
    return text


def digest(url: str) -> str:
    """A short digest naming a NOTIFY_URLS target in the queue (never the URL itself)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Target:
    """A checked URL: its kind and Apprise's name for the service ("JSON", "Slack", "E-Mail")."""

    kind: str
    service: str


def _well_formed(url: str) -> str:
    url = url.strip()
    if not url:
        raise TargetError(f"an Apprise URL such as {EXAMPLES}")
    if len(url) > URL_MAX:
        raise TargetError(f"at most {URL_MAX} characters")
    if any(ord(c) < 0x20 or c.isspace() for c in url):
        raise TargetError("no spaces or control characters (percent-encode them)")
    kind = kind_of(url)
    if not kind:
        raise TargetError(f"not an Apprise URL (scheme://...): e.g. {EXAMPLES}")
    if kind not in _schemes():
        raise TargetError(f"Apprise knows no service {kind!r}:// (see its list of supported services)")
    return url


def instantiate(url: str) -> Any:
    """Apprise's plugin for the URL, as its parser reads it; TargetError (masked) when it refuses it.
    Blocking (the first call loads Apprise's plugins): call it in a thread from async code."""
    url = _well_formed(url)
    apprise = _apprise()
    try:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=False)
    except Exception as exc:  # the plugin's own check of its tokens: its message says which one
        raise TargetError(mask(f"Apprise refused it: {exc}", url)) from None
    if plugin is None:
        raise TargetError(
            f"Apprise cannot parse this {kind_of(url)}:// URL (check its form in Apprise's documentation)"
        )
    return plugin


def check(url: str) -> Target:
    """Whether Apprise can use the URL (its own parser decides), and what it is. Blocking: see instantiate."""
    plugin = instantiate(url)
    return Target(kind=kind_of(url), service=str(getattr(plugin, "service_name", "") or kind_of(url)))


def split_urls(value: str) -> list[str]:
    """NOTIFY_URLS: Apprise URLs separated by spaces, or by commas before the next URL's scheme (a comma
    inside a URL, as in `mailto://...?to=a@x.example,b@x.example`, stays in it)."""
    return [item.strip(",") for item in re.split(r"\s+|,(?=[A-Za-z][A-Za-z0-9+.-]*://)", value) if item.strip(",")]
