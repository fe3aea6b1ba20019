"""Reflex configuration: everything comes from remediation_app.settings (the environment)."""

import reflex as rx

from remediation_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="remediation_app",
    telemetry_enabled=False,
    frontend_port=_settings.port,
    backend_port=_settings.port,
    # Reflex's own state: Redis when REDIS_URL is set (needed for several workers), else on disk.
    redis_url=_settings.redis_url,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
