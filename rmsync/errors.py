"""The one base class every rmsync failure derives from.

Subclasses live beside the code that raises them; only cli.py turns them into messages
and exit codes. Nothing here prints, logs or exits.
"""

from __future__ import annotations


class RmsyncError(Exception):
    """A failure the user can act on; its message is shown as is."""
