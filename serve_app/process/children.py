"""Child processes of `photoserve run`: each in a process group of its own (a terminal's
Ctrl-C reaches only the runner, which stops them in order), and each told to stop when the
runner dies, even by SIGKILL (Linux `PR_SET_PDEATHSIG`), so none outlives it."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
# loaded before any fork: a preexec function must not import or allocate much
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def dies_with_parent(signum: int) -> Callable[[], None]:
    """A preexec_fn: `signum` arrives when the process that started this one exits."""

    def setup() -> None:
        # a shell starts background jobs with SIGINT ignored, and exec keeps that: undo it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if sys.platform.startswith("linux"):
            _LIBC.prctl(_PR_SET_PDEATHSIG, signum)

    return setup


def start(command: list[str], stop_signal: int, **kwargs) -> subprocess.Popen:
    """A child in its own process group that gets `stop_signal` if we die first."""
    return subprocess.Popen(
        command, start_new_session=True, preexec_fn=dies_with_parent(stop_signal), **kwargs
    )


def kill_group(pgid: int, signum: int = signal.SIGKILL) -> bool:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True
