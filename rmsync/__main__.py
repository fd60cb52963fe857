"""`python -m rmsync`: the same as the `rmsync` console script."""

from rmsync.entry import main

main()
