"""Where the hotline's processes keep their metrics, in a module that loads no metrics library.

prometheus-client chooses between counting in memory and counting in files shared by every
process as it is imported, from PROMETHEUS_MULTIPROC_DIR: `hotline serve` forks its parts, so it
sets the directory in its own environment before anything imports the client.
"""

from __future__ import annotations

from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(directory: Path) -> Path:
    """Make the processes' metrics directory, emptied of an earlier run's files.

    New processes, new counts: a restarted hotline starts from zero, as Prometheus expects of a
    restart. Only prometheus-client's own `*.db` files are removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    return directory
