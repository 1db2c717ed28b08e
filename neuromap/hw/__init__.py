"""Hardware profiles (data files) and their loader."""
from .profile import HardwareProfile, load_profile

__all__ = ["HardwareProfile", "load_profile"]
