"""neuromap: train spiking CNNs with SLAYER, export them to NetX HDF5 and deploy them on Lava."""

__version__ = "0.1.0"
