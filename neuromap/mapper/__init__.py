"""Mapping a NetworkGraph onto neurocores: partition, place, validate."""
from .mapping import Core, Mapping, validate
from .layerwise import map_layerwise

__all__ = ["Core", "Mapping", "map_layerwise", "validate"]
