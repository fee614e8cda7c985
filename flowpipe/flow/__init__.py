"""The TV-L1 engine: `tvl1_flow(prev, nxt, params=TVL1Params(), device="cpu")`."""

from flowpipe.flow.params import PRESETS, TVL1Params, preset
from flowpipe.flow.solver import tvl1_flow

__all__ = ["PRESETS", "TVL1Params", "preset", "tvl1_flow"]
