"""Work nobody waits for. Two ways, both inline when MONITOR_SYNC_IN_BACKGROUND is off (the
tests), so the job is done when the call returns:
- `run_after_response`: a daemon thread per job, with its own database connection, closed when
  the job ends, for long jobs (reading Phare, page after page);
- `when_answered`: a short job in the request's own thread, once the response has been sent
  (Django's request_finished), on the thread's database connection.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection

logger = logging.getLogger(__name__)

_running: dict[str, threading.Thread] = {}
# The jobs waiting for the end of the request this thread serves (None: no request).
_this_request = threading.local()


def run_after_response(name: str, job: Callable[..., Any], *args: Any) -> None:
    """Run `job(*args)` in the background; `name` labels its thread and its log lines."""
    if not settings.MONITOR_SYNC_IN_BACKGROUND:
        job(*args)
        return
    thread = threading.Thread(target=_run, args=(name, job, args), name=name, daemon=True)
    _running[name] = thread
    thread.start()


def when_answered(name: str, job: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `job(*args, **kwargs)` once the response this thread is serving has been sent: the
    person does not wait for it, and no thread or connection is opened for it. A failure is
    logged. Outside a request (a command, a thread of our own) it runs now, and its failure
    is the caller's."""
    pending = getattr(_this_request, "jobs", None)
    if pending is None or not settings.MONITOR_SYNC_IN_BACKGROUND:
        job(*args, **kwargs)
        return
    pending.append((name, job, args, kwargs))


def _request_started(**kwargs: Any) -> None:
    _this_request.jobs = []


def _request_finished(**kwargs: Any) -> None:
    jobs, _this_request.jobs = getattr(_this_request, "jobs", None) or [], None
    for name, job, args, job_kwargs in jobs:
        try:
            job(*args, **job_kwargs)
        except Exception:
            logger.exception("job %s after the response failed", name)


request_started.connect(_request_started, dispatch_uid="incidents.background.request_started")
request_finished.connect(_request_finished, dispatch_uid="incidents.background.request_finished")


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
