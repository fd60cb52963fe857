"""`python -m rmsync`: the same as the `rmsync` command."""

from rmsync.cli import main

main()
