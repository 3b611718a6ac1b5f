"""`town eval`: is the town believable, and did a change make it better?

``runner`` steps N seeds per arm as ordinary resumable run folders and probes them, ``metrics`` turns one
run's events and probe into numbers, ``stats`` gives bootstrap intervals, paired A/B verdicts and
Bradley-Terry ratings, ``ablation`` reproduces the paper's believability study, ``summary`` and ``report``
write ``eval.json`` and the HTML/Markdown reports. :func:`evaluate` ties them together;
``before_after`` sets one arm of two finished evals side by side (`town eval-compare`).
"""

from town.app.eval.main import evaluate

__all__ = ["evaluate"]
