"""Figures staff can act on: a share with its 95 % margin of error and its base, the mean,
median and distribution of a rating, and the Net Promoter Score of a 0–10 question.

Pure functions of counts (value -> how many), so they work the same on tallies kept as
responses finish and on counts made by a scan. No Flask, no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

# 95 % of a normal distribution lies within this many standard deviations of its mean.
Z_95 = 1.959963984540054

# The Net Promoter Score's bands on its 0–10 scale.
PROMOTER_FROM = 9
DETRACTOR_UP_TO = 6
NPS_SCALE = (0, 10)


def wilson_interval(count: int, base: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of the proportion count/base, as fractions from 0 to 1.

    Unlike "p ± 1.96·√(p(1−p)/n)" it stays within 0..1 and is honest for small bases and for
    shares near 0 % or 100 %, which is where a newsroom is most tempted to read a headline.
    """
    if base <= 0:
        return (0.0, 1.0)
    if not 0 <= count <= base:
        raise ValueError(f"count {count} is not between 0 and the base {base}")
    p = count / base
    z2 = z * z
    centre = (p + z2 / (2 * base)) / (1 + z2 / base)
    half = z * math.sqrt(p * (1 - p) / base + z2 / (4 * base * base)) / (1 + z2 / base)
    # Rounding must not put an end on the wrong side of the share itself (0 of n, n of n).
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


@dataclass(frozen=True)
class Share:
    """`count` of `base` (e.g. 312 of 1,204 who answered), with its 95 % interval in percent."""

    count: int
    base: int

    @property
    def percent(self) -> float:
        return self.count * 100 / self.base if self.base else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        low, high = wilson_interval(self.count, self.base)
        return (low * 100, high * 100)

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    @property
    def margin(self) -> float:
        """The larger distance from the share to an end of its interval, in points."""
        low, high = self.interval
        return max(self.percent - low, high - self.percent)


def median_of_counts(counts: Mapping[float, int]) -> float | None:
    """The median of the values each repeated `count` times (the mean of the middle two when
    the number of values is even), without expanding them into a list."""
    total = sum(counts.values())
    if total == 0:
        return None
    ordered = sorted((value, n) for value, n in counts.items() if n)
    middle = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for value, n in ordered:
        while len(found) < 2 and middle[len(found)] < seen + n:
            found.append(value)
        seen += n
    return (found[0] + found[1]) / 2


def mean_of_counts(counts: Mapping[float, int]) -> float | None:
    """`statistics.fmean` of the values each repeated `count` times, to the last bit: fmean
    divides the correctly rounded sum of the values as floats (`math.fsum`) by how many there
    are, and the exact sum of the same floats, rounded once, is that sum."""
    total = sum(counts.values())
    if total == 0:
        return None
    return float(sum(Fraction(float(value)) * n for value, n in counts.items())) / total


@dataclass(frozen=True)
class RatingPoint:
    value: int
    share: Share


@dataclass(frozen=True)
class RatingSummary:
    base: int
    mean: float | None
    median: float | None
    distribution: list[RatingPoint]


def rating_summary(points: list[int], counts: Mapping[int, int]) -> RatingSummary:
    """Mean, median and the share of each point of the scale (every point, answered or not);
    `counts` maps a point to how many chose it."""
    base = sum(counts.values())
    known = set(points)
    # A value outside today's scale (an older version's) still counts, in its place.
    every = sorted(known | {value for value, n in counts.items() if n})
    return RatingSummary(
        base=base,
        mean=mean_of_counts(counts),
        median=median_of_counts(counts),
        distribution=[RatingPoint(value, Share(counts.get(value, 0), base)) for value in every],
    )


@dataclass(frozen=True)
class NetPromoter:
    base: int
    promoters: Share
    passives: Share
    detractors: Share

    @property
    def score(self) -> float:
        """Percent promoters minus percent detractors: from −100 to +100."""
        return self.promoters.percent - self.detractors.percent

    @property
    def margin(self) -> float:
        """The 95 % margin of error of the score, in points (the normal approximation for a
        difference of two shares of one sample)."""
        if self.base == 0:
            return 100.0
        p = self.promoters.count / self.base
        d = self.detractors.count / self.base
        variance = (p + d - (p - d) ** 2) / self.base
        return Z_95 * math.sqrt(variance) * 100


def is_nps_question(question: Mapping) -> bool:
    scale = question.get("scale") or {}
    return bool(question.get("nps")) and (scale.get("min"), scale.get("max")) == NPS_SCALE


def net_promoter(counts: Mapping[int, int]) -> NetPromoter:
    """Promoters (9–10), passives (7–8) and detractors (0–6) of a 0–10 question."""
    base = sum(counts.values())
    promoters = sum(n for value, n in counts.items() if value >= PROMOTER_FROM)
    detractors = sum(n for value, n in counts.items() if value <= DETRACTOR_UP_TO)
    return NetPromoter(
        base=base,
        promoters=Share(promoters, base),
        passives=Share(base - promoters - detractors, base),
        detractors=Share(detractors, base),
    )
