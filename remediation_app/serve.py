"""`python -m remediation_app serve`: the production server (what `make run` and the image start).

Reflex's `reflex run --env prod` rebuilds the frontend at every start and needs a package registry
whenever its install cache looks stale. This start does what it does, minus that:

1. the frontend: served as it is when its build is current (remediation_app/frontend_build.py),
   else built first in a short-lived child process;
2. the backend: Reflex's ASGI app (pages' states, the event socket `/_event`, our API through
   `api_transformer`) with the built frontend mounted at `/`, exactly as `reflex run --env prod`
   assembles it (REFLEX_MOUNT_FRONTEND_COMPILED_APP, compile skipped), on one port (PORT);
3. the server: granian. With one worker (the default without Redis) it runs embedded in this
   process's event loop: one process, no supervisor beside it. With GRANIAN_WORKERS > 1 (needs
   Redis) granian's multi-process server forks the workers from this process, which has
   imported the app first (shared pages), and respawns a worker that dies.

One process has nothing to respawn it but the service manager: the image's compose file and the
systemd unit restart it (`restart: unless-stopped`, `Restart=always`), and a restart takes seconds
because the build is reused.

Memory (issue 11, item 8): glibc's malloc is tuned here, at the start (workers forked later inherit
it), unless the matching MALLOC_* environment variable is set. By default glibc raises its mmap
threshold to the size of the largest block freed (up to 32 MB) and its trim threshold to twice
that: after one near-10 MB webhook body, later blocks of a few MB come from the heaps instead of
mmap, and a heap's free top below ~20 MB is never given back (malloc_trim() does not trim the top
of the per-thread arenas either). Fixed thresholds keep large blocks on mmap (returned on free) and
heaps trimmed; two arenas instead of up to 8 per core keep the holes in fewer heaps. bench/memory.py
measured a worker retaining +80 MB after the hostile load with this alone, +100 MB with only the
release in remediation_app/api/memory.py, +26 MB with both (+231 MB before either).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from remediation_app.serve_admin import FirstAdmin

# glibc's mallopt() parameters (malloc.h) and the environment variables that set them at start.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MALLOC_TUNING = (
    (M_ARENA_MAX, "MALLOC_ARENA_MAX", 2),
    (M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 128 * 1024),
    (M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", 128 * 1024),
)
READY_DEADLINE_S = 300  # for the start-up banner only: a busy machine, a slow first migration

log = logging.getLogger("remediation_app.serve")


class ServeError(RuntimeError):
    """The server cannot start; the message says why."""


def tune_malloc() -> list[str]:
    """Set glibc's malloc parameters for this process and the workers it forks (the names set).

    The environment variable of a parameter, when set, wins (glibc read it at start). Off glibc
    (musl, macOS) nothing happens.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return []
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return [name for param, name, value in MALLOC_TUNING if name not in os.environ and mallopt(param, value) == 1]


def _respawning(server_cls: type[Any], after_spawn: Callable[[], None] | None) -> type[Any]:
    class RespawningServer(server_cls):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            super().__init__(*args, **kwargs)

        def _spawn_workers(self, *args: Any, **kwargs: Any) -> None:
            super()._spawn_workers(*args, **kwargs)
            if after_spawn is not None:  # a thread started only now is never forked mid-request
                after_spawn()

    RespawningServer.__name__ = RespawningServer.__qualname__ = f"Respawning{server_cls.__name__}"
    return RespawningServer


def install_respawning_server(after_spawn: Callable[[], None] | None = None) -> None:
    """Make `granian.server.Server` (what Reflex's multi-worker start builds) respawn failed workers.

    Granian's default is off: a worker that dies (OOM killer, `kill -9`, a crash in a C extension)
    would shut the whole server down. Granian still gives up on a crash loop (a worker that dies
    again within 5.5 s of its respawn); the service manager restarts it then. `after_spawn` runs
    once the first workers are forked.
    """
    import granian.server

    if not getattr(granian.server.Server, "_respawns", False):
        server = _respawning(granian.server.Server, after_spawn)
        server._respawns = True
        granian.server.Server = server


def check_port_free(host: str, port: int) -> None:
    """Fail before any work when the port is taken (another instance still running)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (is the app already running?)"
            ) from None


def _granian_log_config(json_logs: bool) -> dict[str, Any]:
    """Granian's own lines (start, stop, errors) in the app's format; access logs stay off."""
    formatter = "remediation_app.logs.JsonFormatter" if json_logs else "remediation_app.logs.ConsoleFormatter"
    handler = {"formatter": "app", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "formatters": {"app": {"()": formatter}},
        "handlers": {"console": handler, "access": handler},
    }


class _DropEmbeddedNotice(logging.Filter):
    """Granian warns "Embedded server is experimental!" at every start: true, known, and decided
    (see the module docstring); not worth an operator's attention each time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Embedded server is experimental" not in record.getMessage()


def _prepare_reflex_backend() -> None:
    """The environment `reflex run --env prod` gives its backend (reflex/reflex.py `_run_prod`)."""
    from reflex.istate.manager import reset_disk_state_manager
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)  # the build is current: evaluate pages, write nothing
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(True)  # serve .web/build/client at /
    reset_disk_state_manager()  # type: ignore[no-untyped-call]  # as every `reflex run`: no page state survives a restart


def worker_count() -> int:
    from reflex.utils import processes

    configured = os.environ.get("GRANIAN_WORKERS", "").strip()
    if not configured:
        return processes.get_num_workers()  # Reflex's rule: 1 without Redis
    if not configured.isdigit() or int(configured) < 1:
        raise ServeError(f"GRANIAN_WORKERS must be a whole number of at least 1, not {configured!r}")
    return int(configured)


def _announce_when_ready(url: str, probe: str, admin: FirstAdmin, stop: threading.Event) -> None:
    """Print the address (and a generated first admin's password) once /healthz answers."""
    deadline = time.monotonic() + READY_DEADLINE_S
    while not stop.is_set() and time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{probe}/healthz", timeout=2) as response:  # noqa: S310 (our own http URL)
            if response.status == 200:
                break
        stop.wait(0.25)
    else:
        return
    lines = [f"Remediation Engine is running at {url}", f"  API docs {url}/docs, webhook {url}/webhook/alerts"]
    if (password := admin.created_password()) is not None:
        lines.append(f"First admin: username {admin.username!r}, password {password}")
        lines.append("  It is shown only this once. Set ADMIN_PASSWORD to choose your own.")
    rule = "=" * min(100, max(len(line) for line in lines))
    print("\n".join(["", rule, *lines, rule, ""]), file=sys.stdout, flush=True)


def _serve_embedded(host: str, port: int, loglevel: str, json_logs: bool, announce: Callable[[], None]) -> int:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server
    from reflex.utils import prerequisites

    app = prerequisites.get_app().app  # the rx.App; calling it builds the ASGI app
    server = Server(
        target=app,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        backlog=1024,
        log_level=LogLevels(os.getenv("GRANIAN_LOG_LEVEL", loglevel)),
        log_dictconfig=_granian_log_config(json_logs),
    )
    logging.getLogger("_granian").addFilter(_DropEmbeddedNotice())
    announce()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        await server.serve()

    asyncio.run(run())
    if server.interrupt_children:  # the app's task ended on its own: a failed start-up or a crash
        print("the app stopped unexpectedly (see the log above)", file=sys.stderr, flush=True)
        return 1
    return 0


def _serve_workers(host: str, port: int, loglevel: str, announce: Callable[[], None]) -> int:
    from reflex.utils import exec as reflex_exec
    from reflex_base import constants

    install_respawning_server(after_spawn=announce)
    # Imports the app here, freezes the heap and forks the workers (Reflex's own prod path).
    reflex_exec.run_granian_backend_prod(host, port, constants.LogLevel(loglevel))
    return 0


def serve(loglevel: str = "warning", backend_host: str | None = None) -> int:
    """Build the frontend if needed, then serve it with the backend on PORT until SIGINT/SIGTERM."""
    from remediation_app import frontend_build
    from remediation_app.logs import configure_logging
    from remediation_app.settings import get_settings

    tune_malloc()
    settings = get_settings()
    configure_logging(settings)  # this start's own lines in the app's format (the lifespan repeats it)
    host = backend_host or "0.0.0.0"  # noqa: S104 (a server; --backend-host narrows it)
    port = settings.port
    try:
        check_port_free(host, port)
        frontend_build.ensure_built(port=port, loglevel=loglevel)
        workers = worker_count()
    except (ServeError, frontend_build.FrontendBuildError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    admin = FirstAdmin.prepare(settings)  # before anything else reads the settings
    _prepare_reflex_backend()
    from remediation_app.services.metrics import SERVER_PID_ENV

    os.environ[SERVER_PID_ENV] = str(os.getpid())  # names the metric files' directory (lifespan)

    shown = host if host not in ("0.0.0.0", "::") else "localhost"  # noqa: S104
    url = (settings.public_url or f"http://{shown}:{port}").rstrip("/")
    probe = f"http://{'127.0.0.1' if shown == 'localhost' else host}:{port}"
    stop = threading.Event()
    announcer = threading.Thread(target=_announce_when_ready, args=(url, probe, admin, stop), daemon=True)

    def announce() -> None:
        if announcer.ident is None:  # once, even if granian spawns its workers again (SIGHUP)
            announcer.start()

    try:
        if workers == 1:
            return _serve_embedded(host, port, loglevel, settings.log_format == "json", announce)
        return _serve_workers(host, port, loglevel, announce)
    finally:
        stop.set()


def serve_command(args: Any) -> int:
    """`python -m remediation_app serve`."""
    return serve(loglevel=args.loglevel, backend_host=args.backend_host)
