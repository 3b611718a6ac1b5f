"""The pygame viewer: live window over a running town, and replay of a finished run.

pygame is imported only under this package. ``state`` (no pygame) rebuilds what is shown from the event stream;
``renderer`` draws it off-screen from ``tiles`` (tile layers, pre-rendered per zoom), ``sprites`` (people and
furniture from ``maps/tilesets``), ``overlays`` (day/night, bubbles, clock), ``minimap``, ``panel`` and ``text``;
``live`` and ``replay`` own the windows; ``framebench`` times frames for ``town bench frames``.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner on stdout when pygame loads
