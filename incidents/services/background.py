"""The one way to run work after the response: a daemon thread per job, with its own database
connection, closed when the job ends. With MONITOR_SYNC_IN_BACKGROUND off (the tests), the job
runs inline instead, so it is done when the call returns."""

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

_running: dict[str, threading.Thread] = {}


def run_after_response(name: str, job: Callable[..., Any], *args: Any) -> None:
    """Run `job(*args)` in the background; `name` labels its thread and its log lines."""
    if not settings.MONITOR_SYNC_IN_BACKGROUND:
        job(*args)
        return
    thread = threading.Thread(target=_run, args=(name, job, args), name=name, daemon=True)
    _running[name] = thread
    thread.start()


def wait_for_background_work(timeout: float = 30.0) -> None:
    """For tests and shutdown: wait until the jobs started in this process have finished."""
    for thread in list(_running.values()):
        thread.join(timeout)


def _run(name: str, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        job(*args)
    except Exception:
        logger.exception("background job %s failed", name)
    finally:
        _running.pop(name, None)
        connection.close()  # the thread's own connection; nobody else will close it
