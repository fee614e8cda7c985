"""Quality figures of extracted flow.

`flowpipe.quality.consistency`: forward-backward consistency of flow pairs (torch, any device),
and the per-video record stored in meta.json. `flowpipe.quality.suspects`: reading those
records back: per-video rows, and the suspect videos and pairs of a dataset (no torch).
"""
