"""Event accounting and the energy / latency model."""
from .accounting import CoreEvents, account
from .model import CostEstimate, estimate_cost

__all__ = ["CoreEvents", "account", "CostEstimate", "estimate_cost"]
