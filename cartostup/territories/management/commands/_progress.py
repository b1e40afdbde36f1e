"""A tqdm progress bar per stage of a service, shown when verbosity >= 1."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


class StageProgress:
    """Callable as `progress(stage, done, total)`; opens one bar per stage."""

    def __init__(self, *, enabled: bool, stream: Any) -> None:
        self.enabled = enabled
        self.stream = stream
        self.stage: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, file=self.stream, leave=True)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
