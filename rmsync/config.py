"""Where rmsync's settings come from: flags, then the SAIL_* environment, then the manifest.

Owns: resolving the tenant URL, credentials and file paths (`Inputs`: where a run's manifest
and lockfile are), and saying exactly what is missing. Must not: talk to the tenant or read
the process environment itself (it is given the environment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rmsync.errors import RmsyncError
from rmsync.manifest import folder_of, load_manifest
from rmsync.models import Credentials, Manifest, Target

LOCKFILE_NAME = "rmsync.lock.yaml"


class ConfigError(RmsyncError):
    """A setting is missing or contradictory."""


@dataclass(frozen=True)
class Inputs:
    """Where a run's files are: the manifest (file or folder) and the lockfile."""

    manifest_path: Path
    lockfile_flag: Path | None = None

    @property
    def lock_path(self) -> Path:
        return lock_path(folder_of(self.manifest_path), self.lockfile_flag)

    def manifest(self) -> Manifest:
        return load_manifest(self.manifest_path, exclude=self.lock_path)


def lock_path(manifest_folder: Path, flag: Path | None) -> Path:
    """`--lockfile`, else rmsync.lock.yaml beside the manifest."""
    return flag if flag is not None else manifest_folder / LOCKFILE_NAME


def where(base_url_flag: str | None, env: Mapping[str, str]) -> Callable[[Manifest], Target]:
    """The tenant of a run, resolved once its manifest is read (see `target`)."""
    return lambda manifest: target(manifest, base_url_flag, env)


def target(manifest: Manifest, base_url_flag: str | None, env: Mapping[str, str]) -> Target:
    """The tenant and credentials: --base-url or SAIL_BASE_URL over the manifest's base_url."""
    from rmsync.api import check_base_url  # httpx only for the commands that reach a tenant

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
