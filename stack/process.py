"""Process exit for programs that hold a Temporal client."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def exit_now(status: int = 0) -> NoReturn:
    """Exit without interpreter teardown, where the SDK's Rust threads can abort an otherwise
    clean exit ("PyGILState_Release ... finalizing", temporalio/sdk-python#300) and turn 0 into
    134. Call it only once everything is shut down."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
