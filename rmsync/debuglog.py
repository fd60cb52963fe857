"""What a run says about its traffic on stderr: the debug log, and the long waits.

Owns: where the `rmsync.http` logger's lines go (stderr, `rmsync: ` first) and at what level
(`--debug` or RMSYNC_LOG=debug: every request and answer, retry and rate-limit wait; else only
waits long enough to look like a hang), and redaction: every line is scrubbed of the
credentials this process was given and of anything shaped like a token, whatever the code
that logged it. Must not: log anything itself (rmsync.api does), or print to stdout, which
carries only a command's document.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping

LOGGER = "rmsync.http"
SECRETS = ("SAIL_CLIENT_SECRET", "SAIL_ACCESS_TOKEN", "SAIL_CLIENT_ID")
REDACTED = "[redacted]"
# A bearer token, a JWT, or a token or secret as a form field or JSON key, wherever it shows.
_SHAPES = re.compile(
    r"(?i)(bearer\s+)[^\s;,&\"']+"
    r"|eyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*"
    r"|((?:access_token|refresh_token|client_secret|password)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"
)


class Redacting(logging.Filter):
    """Scrubs each record's final text: the given secret values, then token shapes."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        return True

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _SHAPES.sub(lambda m: (m.group(1) or m.group(2) or "") + REDACTED, text)


def wanted(debug: bool, env: Mapping[str, str]) -> bool:
    """--debug, or RMSYNC_LOG set to debug (or trace, 1, true, yes: what people try)."""
    given = env.get("RMSYNC_LOG", "").strip().lower()
    return debug or given in ("debug", "trace", "1", "true", "yes")


def configure(debug: bool, env: Mapping[str, str] = os.environ) -> None:
    """Send `rmsync.http` to stderr: everything with `debug`, else warnings only (the long
    waits). Idempotent: a second call replaces the first's handler (tests run many commands
    in one process)."""
    logger = logging.getLogger(LOGGER)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("rmsync: %(message)s"))
    handler.addFilter(Redacting([env.get(name, "") for name in SECRETS]))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if wanted(debug, env) else logging.WARNING)
    logger.propagate = False


def ensure() -> None:
    """The default (long waits only, on stderr), unless the command line set it up."""
    if not logging.getLogger(LOGGER).handlers:
        configure(False)
