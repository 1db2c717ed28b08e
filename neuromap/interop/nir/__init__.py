"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0.x) <-> NetworkGraph.

Export (:func:`graph_to_nir`, ``export``) writes one NIR subgraph per IR edge and one neuron
node per layer; import (:func:`nir_to_graph`, ``importer``) reads graphs made by us exactly
(from the ``neuromap_*`` metadata) or elsewhere (from the float parameters, quantised to integer
mantissas per layer); ``files`` reads and writes ``.nir`` files. ``layout`` holds the array
orders and conventions both directions share, ``shapes`` and ``neurons`` how the importer reads
NIR's structural and neuron nodes, ``scale`` the one scale per imported layer that turns float
parameters into Lava's mantissas. Imports flow layout -> shapes, neurons, scale -> export,
importer -> files -> this package. docs/nir.md has the mapping table, the units and what does
not translate.

Units: NIR values are in the IR's own unit, the weight mantissa (one LSB of a synaptic weight):
``v_threshold = vThMant``; decays ``d`` (out of 4096) become time constants with dt = 1 step,
``tau = 4096 / d`` (``inf`` for ``d = 0``); forward Euler with dt = 1 then reproduces Lava's
fixed-point CUBA update when ``w_in = tau_syn`` and ``r = tau_mem`` (the ratio ``inf / inf`` is
read as 1) and the per-neuron bias is ``v_leak / tau_mem``.
"""
from __future__ import annotations

from .export import graph_to_nir
from .files import read_nir, write_nir
from .importer import MAX_NESTING, nir_to_graph
from .layout import (BIAS_MAX, CUBA_TYPES, DECAY_UNITY, FORMAT, NEURON_TYPES, SUPPORTED, VTH_MAX,
                     WEIGHT_MAX)
from .neurons import CONVENTIONS, DT_RTOL, infer_dt, is_rockpool, rockpool_dt

__all__ = ["BIAS_MAX", "CONVENTIONS", "CUBA_TYPES", "DECAY_UNITY", "DT_RTOL", "FORMAT",
           "MAX_NESTING", "NEURON_TYPES", "SUPPORTED", "VTH_MAX", "WEIGHT_MAX", "graph_to_nir",
           "infer_dt", "is_rockpool", "nir_to_graph", "read_nir", "rockpool_dt", "write_nir"]
