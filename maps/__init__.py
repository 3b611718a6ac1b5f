"""Tiled JSON maps (``*.json``) and scenarios (``scenarios/*.yaml``), shipped as package data."""
