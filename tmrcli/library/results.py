"""What commands return to people: plain dataclasses that `tmrcli/views/render.py` turns into tables or JSON."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SearchHit", "Segment", "CaptionHit"]


@dataclass(frozen=True)
class SearchHit:
    """One search result: a motion file, or the part of it between `start` and `end` (seconds).

    `score` is (cos + 1) / 2 in [0, 1]; `rank` starts at 1. `confidence` (text queries) says in [0, 1]
    how clearly the text describes this motion rather than being merely its nearest
    (`model/calibration.py`); None for a query by example.
    """

    rank: int
    score: float
    path: str
    start: float
    end: float
    confidence: float | None = None

    @property
    def duration(self) -> float:
        """Seconds between start and end."""
        return self.end - self.start


@dataclass(frozen=True)
class Segment:
    """A stretch of one motion (seconds) and how well it matches a text, (cos + 1) / 2 in [0, 1]."""

    start: float
    end: float
    score: float


@dataclass(frozen=True)
class CaptionHit:
    """A sentence that describes a motion, ranked; `score` is (cos + 1) / 2 in [0, 1]."""

    rank: int
    score: float
    text: str
