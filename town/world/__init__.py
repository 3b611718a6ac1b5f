"""The world core: contracts, map, clock, pathfinding, perception, world state, engine, events.

Imports nothing above it: neither ``agents`` nor ``town.app`` nor ``town.viewer``.
"""
