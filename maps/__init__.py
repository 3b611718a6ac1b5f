"""Tiled maps (``*.json``, ``*.tmj``), the shared tileset (``tilesets/``), map generators and scenarios, shipped as package data."""
