"""TensorBoard scalars of a run's metrics (``--tensorboard``; metrics.csv stays the source of truth).

Every numeric metrics column goes to ``<run>/tensorboard/`` as the scalar ``metrics/<column>`` at the
run's environment step count. A resumed run purges what an interrupted process wrote after the last
checkpoint, so TensorBoard shows each epoch once, as metrics.csv does.
"""

from __future__ import annotations

import math
from pathlib import Path

FOLDER = "tensorboard"
NOT_SCALARS = ("epoch", "total_steps")  # the x axis of every scalar, not scalars themselves


class TensorBoardLog:
    def __init__(self, run_path: Path, resume_after_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        purge = None if resume_after_step is None else resume_after_step + 1
        self.writer = SummaryWriter(log_dir=str(Path(run_path) / FOLDER), purge_step=purge)

    def write(self, row: dict) -> None:
        step = int(row["total_steps"])
        for column, value in row.items():
            if column in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                self.writer.add_scalar(f"metrics/{column}", float(value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
