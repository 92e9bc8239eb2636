"""What a package above the core needs to add a command to ``oms``.

The core's ``oms`` (``oms.cli``) holds the commands that need only the core (``migrate``,
``keys``, ``orders``, ``stock``). The others come from the packages above it, which name
them as Python entry points in the group ``oms.commands`` (``pyproject.toml``): each entry
point is a function that takes the subcommand parsers and adds its own, with ``fn`` set to
what runs it. The core finds them through the installed package's metadata and never
imports those packages by name, so the import direction holds: ``api``, ``worker``,
``simulators`` and ``devtools`` import the core, never the reverse.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from oms.settings import get_settings

GROUP = "oms.commands"
# A function that adds a command: it gets the result of ``add_subparsers()``.
AddCommand = Callable[[Any], None]


def contributed() -> dict[str, AddCommand]:
    """The commands the installed packages contribute, by name; one whose package is not
    there (an image built without ``devtools``, say) is left out."""
    found = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except ModuleNotFoundError as exc:
            if exc.name != ep.module.split(".")[0]:
                raise
    return found


def exit_now(status: int) -> None:
    """Leave at once with ``status``. A process that used a Temporal client can crash while
    the interpreter shuts down (sdk-python issue 300) after its work is done: flush and
    leave directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def serve_http(app_factory: Callable[[], Any], port: int, variable: str, what: str) -> None:
    """Serve the ASGI app ``app_factory()`` makes on ``port`` until stopped; a port in use
    is a message naming ``variable``, not a traceback."""
    import uvicorn

    from oms.loop import uvicorn_loop
    from oms.ports import require_free

    settings = get_settings()
    require_free(settings.host, port, what, variable)
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=port,
        loop=uvicorn_loop(settings),
        http="httptools",
        log_level="warning",
        access_log=False,
        log_config=None,  # uvicorn's loggers go to ours: one format in the log
    )
