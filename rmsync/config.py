"""Where rmsync's settings come from: flags, then the SAIL_* environment, then the manifest.

Owns: resolving the tenant URL, credentials and file paths, and saying exactly what is
missing. Must not: read files or talk to the tenant; it is given the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rmsync.api import Credentials, check_base_url
from rmsync.errors import RmsyncError
from rmsync.manifest import Manifest

LOCKFILE_NAME = "rmsync.lock.yaml"


class ConfigError(RmsyncError):
    """A setting is missing or contradictory."""


@dataclass(frozen=True)
class Target:
    """The tenant to talk to and how to authenticate."""

    base_url: str
    credentials: Credentials


def lock_path(manifest_folder: Path, flag: Path | None) -> Path:
    """`--lockfile`, else rmsync.lock.yaml beside the manifest."""
    return flag if flag is not None else manifest_folder / LOCKFILE_NAME


def target(manifest: Manifest, base_url_flag: str | None, env: Mapping[str, str]) -> Target:
    """The tenant and credentials: --base-url or SAIL_BASE_URL over the manifest's base_url."""
    base_url = base_url_flag or env.get("SAIL_BASE_URL") or manifest.base_url
    if not base_url:
        raise ConfigError(
            "no tenant URL: set SAIL_BASE_URL, pass --base-url, "
            "or set tenant.base_url in the manifest"
        )
    return Target(check_base_url(base_url), credentials(env))


def credentials(env: Mapping[str, str]) -> Credentials:
    token = env.get("SAIL_ACCESS_TOKEN")
    client_id, secret = env.get("SAIL_CLIENT_ID"), env.get("SAIL_CLIENT_SECRET")
    if client_id and secret:
        return Credentials(client_id, secret)
    if token:
        return Credentials(access_token=token)
    if client_id or secret:
        missing = "SAIL_CLIENT_SECRET" if client_id else "SAIL_CLIENT_ID"
        raise ConfigError(f"{missing} is not set: set both SAIL_CLIENT_ID and SAIL_CLIENT_SECRET")
    raise ConfigError(
        "no credentials: set SAIL_CLIENT_ID and SAIL_CLIENT_SECRET (a personal access token's "
        "client id and secret), or SAIL_ACCESS_TOKEN"
    )
