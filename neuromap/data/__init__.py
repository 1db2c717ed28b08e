"""Datasets (offline, bundled) and spike encoders."""
