"""The on-disk format v1 of a flow dataset (DESIGN.md): names, files, lists, codes."""
