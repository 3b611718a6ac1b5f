"""The application layer: session, CLI, checkpoints, bench, report, interviews, eval.

Composes the world core (``town.world``) with the minds (``agents``, public API only).
"""
