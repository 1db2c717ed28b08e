"""Mapping a NetworkGraph onto neurocores: resource model, partition, place, validate."""
from .mapping import Core, Mapping, validate
from .api import STRATEGIES, MapResult, map_layerwise, map_network
from .options import MapOptions

__all__ = ["Core", "MapOptions", "Mapping", "MapResult", "STRATEGIES", "map_layerwise", "map_network", "validate"]
