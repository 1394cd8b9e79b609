"""The text bank `tmr caption` ranks by default: sentences that ship with the default model.

One function, so the default model's owner can point it at another bank without touching the CLI.
"""

from __future__ import annotations

from model.corpus import read_caption_table

__all__ = ["default_text_bank"]


def default_text_bank() -> list[str]:
    """The distinct action sentences of the shipped caption table (Bandai-Namco contents, per-clip,
    per-tag and per-source-label captions), in table order. Style phrases and the parts of ACCAD's
    transitions are left out: alone they describe no motion."""
    table = read_caption_table()
    kinds = ("content", "clip", "tag", "label")
    sentences = (text.strip() for kind in kinds for texts in table[kind].values() for text in texts)
    return list(dict.fromkeys(s for s in sentences if s))
