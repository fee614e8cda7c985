"""`python -m flowpipe` runs the command line."""

from flowpipe.cli import main

main()
