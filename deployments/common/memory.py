"""Resident memory of this process, from /proc (Linux): current, peak, and a peak reset so a
single job's high-water mark can be measured."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _field_mb(name: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    return _field_mb("VmRSS")


def peak_rss_mb() -> float | None:
    return _field_mb("VmHWM")


def reset_peak() -> bool:
    """Set the peak back to the current RSS (writing 5 to clear_refs, Linux >= 4.0)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
