"""``python -m agents.testing [--script html,500] [--default ok] ...``: the fault-injection server as a process."""

from agents.testing.openai_server import main

main()
