"""Mapping a NetworkGraph onto neurocores: resource model, partition, place, validate."""
from .mapping import Core, Mapping, validate
from .layerwise import map_layerwise
from .api import STRATEGIES, MapResult, map_network

__all__ = ["Core", "Mapping", "MapResult", "STRATEGIES", "map_layerwise", "map_network", "validate"]
