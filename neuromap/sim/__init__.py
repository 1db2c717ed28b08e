"""Simulators that turn (graph, inputs) into an Activity. Lava lives only in sim.lava."""
from .activity import Activity

__all__ = ["Activity"]
