"""`python -m stack.healthcheck URL [--metric NAME]`: the containers' health checks.

Without --metric: healthy when URL answers HTTP at all (any status: the codec server answers a
GET with 405, which still proves it serves). With --metric: URL is a Prometheus endpoint and
some sample of NAME must be above 0, e.g. `temporal_num_pollers` for a worker that polls.
Standard library only, so a check costs little more than the interpreter's start-up.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence


def problem(url: str, metric: str | None = None, timeout: float = 3.0) -> str | None:
    """Why the endpoint is not healthy, or None when it is."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return None if metric is None else f"{url} answered {err.code}"
    except (OSError, ValueError) as err:
        return f"{url}: {err}"
    if metric is None:
        return None
    samples = re.findall(rf"^{re.escape(metric)}(?:{{[^}}]*}})? (\S+)$", body, flags=re.MULTILINE)
    if not any(float(value) > 0 for value in samples):
        return f"{metric} is not above 0 at {url}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.healthcheck", description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--metric", help="a Prometheus metric that must be above 0")
    args = parser.parse_args(argv)
    found = problem(args.url, args.metric)
    if found:
        print(f"unhealthy: {found}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
