"""`python -m remediation_app serve`: Reflex's production start, with failed workers respawned.

Why this exists: Reflex 0.10.1 starts production (`reflex run --env prod`) through
`reflex.utils.exec.run_granian_backend_prod`, which builds `granian.server.Server(...)` without
`respawn_failed_workers`. Granian's default is off: when the worker dies (OOM killer, `kill -9`,
a crash in a C extension) the supervisor shuts down and the whole app exits. Here the class that
`granian.server.Server` names is swapped, in this process only, for a subclass whose default
turns respawning on; `run_granian_backend_prod` imports that name when it is called, so every
other step stays Reflex's own: compile, frontend build, one port (PORT), the static frontend
mounted into the backend, the fork preload, the environment, signals and shutdown.

Granian still gives up on a crash loop (a worker that dies again within 5.5 s of its respawn):
the supervisor then exits non-zero and the service manager (Docker, systemd) restarts it.
A later issue replaces this with a granian server of our own.

Memory (issue 11, item 8): glibc's malloc is tuned here, before the workers are forked (they
inherit it), unless the matching MALLOC_* environment variable is set. By default glibc raises its
mmap threshold to the size of the largest block freed (up to 32 MB) and its trim threshold to twice
that: after one near-10 MB webhook body, later blocks of a few MB come from the heaps instead of
mmap, and a heap's free top below ~20 MB is never given back (malloc_trim() does not trim the top
of the per-thread arenas either). Fixed thresholds keep large blocks on mmap (returned on free) and
heaps trimmed; two arenas instead of up to 8 per core keep the holes in fewer heaps. bench/memory.py
measured a worker retaining +80 MB after the hostile load with this alone, +100 MB with only the
release in remediation_app/api/memory.py, +26 MB with both (+231 MB before either).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Any

# glibc's mallopt() parameters (malloc.h) and the environment variables that set them at start.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MALLOC_TUNING = (
    (M_ARENA_MAX, "MALLOC_ARENA_MAX", 2),
    (M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 128 * 1024),
    (M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", 128 * 1024),
)


def _respawning(server_cls: type[Any]) -> type[Any]:
    class RespawningServer(server_cls):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            super().__init__(*args, **kwargs)

    RespawningServer.__name__ = RespawningServer.__qualname__ = f"Respawning{server_cls.__name__}"
    return RespawningServer


def install_respawning_server() -> None:
    """Make `granian.server.Server` (what Reflex's prod start builds) respawn failed workers."""
    import granian.server

    if not getattr(granian.server.Server, "_respawns", False):
        server = _respawning(granian.server.Server)
        server._respawns = True
        granian.server.Server = server


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


def reflex_run_args(loglevel: str, backend_host: str | None) -> list[str]:
    args = ["run", "--env", "prod", "--loglevel", loglevel]
    return [*args, "--backend-host", backend_host] if backend_host else args


def serve(loglevel: str = "warning", backend_host: str | None = None) -> int:
    """Run `reflex run --env prod --loglevel LEVEL` in this process, with the changes above."""
    from reflex.reflex import cli
    from reflex.utils import log as reflex_log

    args = reflex_run_args(loglevel, backend_host)
    if reflex_log.is_json_mode() and not reflex_log.is_output_supervised():
        # Reflex would re-run `python -m reflex run ...` below its JSON log supervisor, which
        # loses the respawning server: re-run this command instead.
        own = [sys.executable, "-m", "remediation_app", "serve", "--loglevel", loglevel]
        return reflex_log.supervise_output(own + (["--backend-host", backend_host] if backend_host else []))
    install_respawning_server()
    tune_malloc()
    try:
        cli.main(args=args, prog_name="reflex")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
