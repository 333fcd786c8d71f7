"""Forecourt: a fuel station's service promises as numbers, from the Pi at the pumps to HQ."""

__version__ = "0.1.0"
