"""Interchange with other neuromorphic toolchains (NIR, see docs/nir.md)."""
from __future__ import annotations

from .nir import graph_to_nir, nir_to_graph, read_nir, write_nir

__all__ = ["graph_to_nir", "nir_to_graph", "read_nir", "write_nir"]
