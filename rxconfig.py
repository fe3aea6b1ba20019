"""Reflex configuration: everything comes from remediation_app.settings (the environment)."""

import reflex as rx

from remediation_app.services.security import trusted_origins
from remediation_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="remediation_app",
    telemetry_enabled=False,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    # Reflex's own state: Redis when REDIS_URL is set (needed for several workers), else on disk.
    redis_url=_settings.redis_url,
    # Not Reflex's default "*": with it, CORS answers any origin with credentials allowed, so a page on
    # another port of this host could read the API with the user's cookie. Same-origin pages need no
    # CORS; PUBLIC_URL and ALLOWED_ORIGINS are listed. The event socket's origin check is
    # api/origins.py (engine.io would accept any origin with an empty list).
    cors_allowed_origins=sorted(trusted_origins(_settings)),
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
