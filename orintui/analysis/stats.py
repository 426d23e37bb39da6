"""The statistics behind verdicts, in pure Python (no scipy): Student's t distribution, Fieller's
interval for a ratio of two independent means, and a moving-block bootstrap for one run's tokens."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's method for the continued fraction of the regularised incomplete beta function."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function, for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom (df may be fractional: Welch)."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value below which a share p of the distribution lies (bisection on the CDF)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("t_quantile needs 0 < p < 1 and df > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class RatioInterval:
    ratio: float  # mean(a) / mean(b)
    lo: float | None  # None: the interval is unbounded (b's mean is not told apart from zero)
    hi: float | None
    method: str


def fieller_ratio(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> RatioInterval:
    """Fieller's interval for mean(a) / mean(b), a and b independent samples (at least 2 each).

    The ratios r with (mean_a - r mean_b)^2 <= t^2 (var_a/n_a + r^2 var_b/n_b) form the interval;
    t has Welch-Satterthwaite degrees of freedom for the variance of (a - r b), taken at the
    point estimate."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Fieller's interval needs at least two values on each side")
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    sa2, sb2 = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    r = ma / mb
    combined = sa2 + r * r * sb2
    if combined <= 0:  # no spread at all: the ratio is exact
        return RatioInterval(r, r, r, "Fieller")
    parts = (sa2 ** 2 / (len(a) - 1) if sa2 else 0.0) + ((r * r * sb2) ** 2 / (len(b) - 1) if sb2 else 0.0)
    df = combined ** 2 / parts
    t2 = t_quantile(0.5 + level / 2.0, df) ** 2
    qa = mb * mb - t2 * sb2
    qb = -2.0 * ma * mb
    qc = ma * ma - t2 * sa2
    disc = qb * qb - 4.0 * qa * qc
    if qa <= 0 or disc < 0:
        return RatioInterval(r, None, None, "Fieller")
    root = math.sqrt(disc)
    return RatioInterval(r, (-qb - root) / (2 * qa), (-qb + root) / (2 * qa), "Fieller")


BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261121  # fixed: the same session always gives the same interval
WORDS_PER_BATCH = 1 << 21  # random words drawn at once by the vectorised bootstrap (16 MiB as uint64)
WORDS_MARGIN = 1.05  # words drawn over the expected number; a batch short of words draws 10 % more


@dataclass(frozen=True)
class _Blocks:
    """One series cut into moving blocks of about n^(1/3) tokens: a resample is ``whole`` blocks of
    ``block`` tokens and, if ``rest``, one of ``rest``, each starting anywhere in ``starts``."""

    n: int
    block: int
    starts: int
    whole: int
    rest: int
    prefix: array  # prefix sums: a block's sum is two lookups, not ``block`` additions

    @classmethod
    def of(cls, values: Sequence[float]) -> _Blocks:
        n = len(values)
        block = max(1, round(n ** (1.0 / 3.0)))
        prefix = array("d", [0.0])  # 8 bytes a token: an hour of tokens is resampled at the end of a session
        prefix.extend(itertools.accumulate(values))
        whole, rest = divmod(n, block)
        return cls(n, block, n - block + 1, whole, rest, prefix)

    @property
    def draws(self) -> int:
        return self.whole + (1 if self.rest else 0)


def _resampled_ratios_python(a: _Blocks, b: _Blocks, resamples: int, rng: random.Random) -> list[float]:
    """The reference: one ``randrange`` a block, a's blocks then b's for each resample."""

    def draw(side: _Blocks) -> float:
        total, prefix, block, starts = 0.0, side.prefix, side.block, side.starts
        for _ in range(side.whole):
            s = rng.randrange(starts)
            total += prefix[s + block] - prefix[s]
        if side.rest:
            s = rng.randrange(starts)
            total += prefix[s + side.rest] - prefix[s]
        return total / side.n

    return [draw(a) / draw(b) for _ in range(resamples)]


def _resampled_ratios_numpy(a: _Blocks, b: _Blocks, resamples: int, rng: random.Random) -> list[float]:
    """The same ratios as the reference, bit for bit, in a few array passes (a tenth to a twentieth of
    its CPU: docs/analysis.md): numpy's MT19937 continues ``rng``'s own stream, and
    ``randrange(starts)`` is its next 32-bit word shifted to starts' bit length, drawn again while
    not below starts. The accepted words of each side are found at once; a short walk then assigns
    them to resamples in the reference's order (a's blocks, b's blocks, the next resample), and each
    resample's block sums are added left to right (cumsum), as the reference adds them."""
    import numpy as np

    key = rng.getstate()[1]
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937", "state": {"key": np.array(key[:624], dtype=np.uint32), "pos": key[624]}}
    sides = (a, b)
    shifts = [32 - s.starts.bit_length() for s in sides]
    below = [s.starts << shift for s, shift in zip(sides, shifts)]  # word >> shift < starts
    words_each = sum(s.draws * (1 << s.starts.bit_length()) / s.starts for s in sides)  # expected, rejections included
    batch = max(1, min(resamples, int(WORDS_PER_BATCH / words_each)))
    # a block's sum by where it starts (the reference's prefix[s + block] - prefix[s], the same subtraction)
    sums_at = []
    for side in sides:
        prefix = np.frombuffer(side.prefix, dtype=np.float64)
        sums_at.append((prefix[side.block:side.block + side.starts] - prefix[:side.starts],
                        prefix[side.rest:side.rest + side.starts] - prefix[:side.starts]))
    draws = [side.draws for side in sides]
    ratios: list[float] = []
    words = np.empty(0, dtype=np.int64)  # random_raw's uint64 seen as int64 (below 2^32): numpy indexes with int64
    while len(ratios) < resamples:
        count = min(batch, resamples - len(ratios))
        more = int(count * words_each * WORDS_MARGIN) + 64
        while True:
            words = np.concatenate([words, bits.random_raw(more).view(np.int64)])
            found: dict[int, np.ndarray] = {}  # two runs of one length share their accepted words
            for limit in below:
                if limit not in found:
                    found[limit] = np.flatnonzero(words < limit)
            accepted = [found[limit] for limit in below]
            firsts: tuple[list[int], list[int]] = ([], [])
            pos = 0
            try:
                for _ in range(count):
                    for acc, first, d in zip(accepted, firsts, draws):
                        i = int(acc.searchsorted(pos))
                        first.append(i)
                        pos = int(acc[i + d - 1]) + 1  # IndexError: the words ran out
                break
            except IndexError:
                more = more // 10 + 64  # rare: more rejections than expected
        means = []
        for side, shift, acc, first, (whole_sums, rest_sums) in zip(sides, shifts, accepted, firsts, sums_at):
            drawn = np.concatenate([acc[i:i + side.draws] for i in first])
            starts = (words[drawn] >> shift).reshape(count, side.draws)
            sums = whole_sums[starts]
            if side.rest:
                sums[:, -1] = rest_sums[starts[:, -1]]
            means.append(np.cumsum(sums, axis=1)[:, -1] / side.n)  # left to right: cumsum never sums pairwise
        ratios.extend((means[0] / means[1]).tolist())
        words = words[pos:]
    return ratios


def block_bootstrap_ratio(a: Sequence[float], b: Sequence[float], level: float = 0.95,
                          resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> RatioInterval:
    """Interval for mean(a) / mean(b) from two series of per-token times (a moving-block bootstrap).

    Neighbouring tokens are correlated (clock and cache state drift together), so blocks of about
    n^(1/3) consecutive tokens are resampled together rather than single tokens. The percentile
    interval of the resampled ratios is returned."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the block bootstrap needs at least two values on each side")
    rng = random.Random(seed)
    sides = _Blocks.of(a), _Blocks.of(b)
    try:
        import numpy  # noqa: F401  (a dependency; the pure-Python reference remains for its absence)

        fast = all(s.starts < 1 << 32 for s in sides)  # randrange draws one 32-bit word per try up to there
    except ImportError:
        fast = False
    ratios = sorted((_resampled_ratios_numpy if fast else _resampled_ratios_python)(*sides, resamples, rng))
    tail = (1.0 - level) / 2.0

    def pick(q: float) -> float:
        pos = q * (len(ratios) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(ratios) - 1)
        return ratios[lo] + (ratios[hi] - ratios[lo]) * (pos - lo)

    return RatioInterval(statistics.fmean(a) / statistics.fmean(b), pick(tail), pick(1.0 - tail), "block bootstrap")


def repetitions_needed(cv_a: float, cv_b: float, difference: float, level: float = 0.95, cap: int = 1000) -> int | None:
    """Repetitions per side for a t interval on the ratio to be narrower (half-width) than
    ``difference`` (a fraction, 0.03 = 3 %), given each side's coefficient of variation (Welch
    degrees of freedom); None if
    more than ``cap`` would be needed."""
    if difference <= 0:
        return None
    va, vb = cv_a * cv_a, cv_b * cv_b
    spread = va + vb
    if spread == 0:
        return 2
    for n in range(2, cap + 1):
        df = (n - 1) * spread * spread / (va * va + vb * vb)  # Welch-Satterthwaite, as Fieller uses
        if t_quantile(0.5 + level / 2.0, df) * math.sqrt(spread / n) < difference:
            return n
    return None
