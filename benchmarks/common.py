"""What every benchmark script shares: where the corpus is, and the line that names the machine a figure
was measured on (figures only mean something next to it)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

__all__ = ["REPO", "DEFAULT_DATA", "cpu_name", "machine", "installed_env"]

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from model.clips import checkout_corpus_root  # noqa: E402

DEFAULT_DATA = checkout_corpus_root()


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    """CPU, the cores this process may use, Python, and the load average when it started."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu_name()}, {cores} cores available, Python {platform.python_version()}, load average {load:.1f}"


def installed_env(pycache: Path) -> dict[str, str]:
    """The environment for timing fresh `tmr` processes as an installed tmr runs: Python's bytecode
    cached (in `pycache`; pip compiles it on install), even where PYTHONDONTWRITEBYTECODE is set, which
    makes every start compile each imported module from source (0.15-0.3 s more on two cores), and
    OMP_WAIT_POLICY=PASSIVE as `tmr` sets it. Run the command once untimed to fill the cache."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(pycache), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
