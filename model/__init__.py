"""The TMR network, its losses, the frozen text backbone, checkpoints, training and evaluation.

Imports `formats` but never `tmrcli`; torch is imported here, so `tmrcli` imports this package lazily.
"""

__all__: list[str] = []
