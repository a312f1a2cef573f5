"""Command line: ``python -m phare_sandbox --port 8001``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .server import start_in_thread
from .state import SandboxState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m phare_sandbox", description="Local imitation of Phare's REST API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument(
        "--token",
        default=os.environ.get("PHARE_SANDBOX_TOKEN") or "sandbox-token",
        help="project-scoped read-write token (default: $PHARE_SANDBOX_TOKEN or sandbox-token)",
    )
    parser.add_argument(
        "--org-token", action="append", default=[], help="extra organization-scoped token"
    )
    parser.add_argument(
        "--read-only-token", action="append", default=[], help="extra read-only project token"
    )
    parser.add_argument("--monitors", type=int, default=36, help="number of seeded monitors")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before each API answer")
    parser.add_argument("--rate-limit", type=int, default=100, help="calls per minute")
    parser.add_argument("--no-rate-limit", action="store_true", help="disable rate limiting")
    parser.add_argument(
        "--state-file",
        metavar="PATH",
        help="keep the highest incident and update ids issued in this JSON file, so that "
        "ids and slugs (DEMO-1, DEMO-2…) go on after a restart (default: from 1 at each start)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        state = SandboxState(
            token=args.token,
            monitor_count=args.monitors,
            latency_ms=args.latency_ms,
            rate_limit=None if args.no_rate_limit else args.rate_limit,
            state_file=args.state_file,
        )
    except (OSError, ValueError) as error:
        print(f"Cannot start the sandbox: {error}", file=sys.stderr)
        return 1
    for token in args.org_token:
        state.add_token(token, organization=True)
    for token in args.read_only_token:
        state.add_token(token, read_only=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    try:
        sandbox = start_in_thread(state, args.host, args.port, log_requests=True)
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    with sandbox:
        print(
            f"Phare sandbox on {sandbox.url} "
            f"(project {state.project_slug}, {len(state.monitors)} monitors)",
            flush=True,
        )
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
