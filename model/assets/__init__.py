"""Data files shipped with the model package (caption table, default checkpoint)."""
