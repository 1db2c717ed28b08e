"""NetX HDF5 interchange: export (SLAYER -> HDF5) and load (HDF5 -> NetworkGraph)."""
