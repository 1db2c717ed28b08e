"""The graph mapper's tuning knobs in one frozen object, passed to ``map_network``; the defaults
are the settings every number in docs/mapping.md was measured with."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import NeuromapError


@dataclass(frozen=True)
class MapOptions:
    """Options of ``map_network`` (the layerwise strategy reads none of them).

    ``seed``: Mt-KaHyPar's seed. ``unit_factor``: cut each layer-wise tile into about this many
    units (None: 8 up to 256 layer-wise cores, 4 above). ``fill``: the share of a core the
    partitioner plans per block (None: try ``fills``). ``portfolio``: below ``fast_units`` units,
    try every fill (and unit factor 4 beside the default 8 when the default unit graph has at most
    ``alt_factor_units`` units) and keep the valid candidate with the fewest messages; False: the
    first fill that fits at the default factor. ``fast_units``: unit graphs of more units than this
    are partitioned with the cheap splits wherever they apply: ``greedy_units`` (subproblems of at
    most LEAF cores and at most this many units go to ``greedy.greedy_kway``) and
    ``geometric_units`` (subproblems of more units are cut by coordinate bisection; None: never).
    ``amortise_fit``: amortise the kernel slice of a channel-split layer over the neurons that fit
    beside it (``partition.vertex_weights``). ``refine``: after the repair, move units between cores
    while that lowers the messages (``refine.refine_moves``; not in fast mode)."""

    seed: int = 0
    unit_factor: int | None = None
    fill: float | None = None
    portfolio: bool = True
    fills: tuple[float, ...] = (0.97, 0.9, 0.8)
    alt_factor_units: int = 400
    fast_units: int = 2000
    greedy_units: int = 256
    geometric_units: int | None = 400
    amortise_fit: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        if self.unit_factor is not None and self.unit_factor < 1:
            raise NeuromapError(f"unit factor {self.unit_factor} must be at least 1")
        for f in (self.fills if self.fill is None else (self.fill,)):
            if not 0 < f <= 1:
                raise NeuromapError(f"fill {f} must be in (0, 1]")
        if not self.fills:
            raise NeuromapError("fills must name at least one fill")
        if min(self.alt_factor_units, self.fast_units, self.greedy_units) < 0 or \
                (self.geometric_units is not None and self.geometric_units < 0):
            raise NeuromapError("unit thresholds must be 0 or more")
