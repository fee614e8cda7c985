"""flowpipe: offline dense TV-L1 optical flow for video action recognition."""

__version__ = "0.1.0"
