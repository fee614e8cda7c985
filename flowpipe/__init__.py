"""flowpipe: offline dense TV-L1 optical flow for video action recognition."""

import os

# torch's OpenMP runtime and the one torch.compile's CPU kernels link to spin-wait against
# each other on small machines; a short spin lets them share the cores (read when they load).
SPINCOUNT = "10000"
os.environ.setdefault("GOMP_SPINCOUNT", SPINCOUNT)

__version__ = "0.1.0"
