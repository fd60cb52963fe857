"""Where rmsync's settings come from: flags, then the SAIL_* environment, then the manifest.

Owns: resolving the tenant URL, credentials and file paths (`Inputs`: where a run's manifest
and lockfile are), saying exactly what is missing, and where the credentials may go: the
credentials come from the environment, so a URL from the environment or the command line is
trusted, and a manifest's `tenant.base_url` only on a SailPoint tenant domain or a host the
environment allows (SAIL_ALLOWED_HOSTS), so that a manifest edit cannot send them elsewhere.
Must not: talk to the tenant or read the process environment itself (it is given the
environment).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rmsync.errors import DocumentError, RmsyncError
from rmsync.manifest import folder_of, load_manifest
from rmsync.models import Credentials, Limit, Manifest, Target
from rmsync.yamlload import load_file

LOCKFILE_NAME = "rmsync.lock.yaml"
ALLOWED_HOSTS = "SAIL_ALLOWED_HOSTS"
# The tenant domain of the official specs' `servers` (https://{tenant}.api.identitynow.com);
# a tenant is a subdomain of it, never the domain itself.
SAILPOINT_DOMAINS = ("identitynow.com",)
# A manifest URL's host part: DNS labels or a bracketed IPv6 address, an optional port, and
# nothing else (no user info, no escapes, no backslashes that parsers read differently).
_NETLOC = re.compile(
    r"(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?",
    re.IGNORECASE | re.ASCII,  # ASCII: no Kelvin sign (U+212A) passing for a k
)


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
    if flag is not None and flag.name in ("", ".", ".."):
        raise ConfigError(
            f"--lockfile {str(flag)!r} is not a file name; give one such as rmsync.lock.yaml"
        )
    return flag if flag is not None else manifest_folder / LOCKFILE_NAME


def where(base_url_flag: str | None, env: Mapping[str, str]) -> Callable[[Manifest], Target]:
    """The tenant of a run, resolved once its manifest is read (see `target`)."""
    return lambda manifest: target(manifest, base_url_flag, env)


def target(manifest: Manifest, base_url_flag: str | None, env: Mapping[str, str]) -> Target:
    """The tenant and credentials: --base-url or SAIL_BASE_URL (empty counts as unset) over
    the manifest's base_url, which is used only on a SailPoint tenant domain or an allowed
    host: the credentials come from the environment, and a manifest edit must not redirect
    them."""
    from rmsync.api import check_base_url  # httpx only for the commands that reach a tenant

    base_url = _given(base_url_flag) or _given(env.get("SAIL_BASE_URL"))
    if base_url is None:
        if not manifest.base_url:
            raise ConfigError(
                "no tenant URL: set SAIL_BASE_URL, pass --base-url, "
                "or set tenant.base_url in the manifest"
            )
        base_url = _trusted(manifest, manifest.base_url, env)
    return Target(check_base_url(base_url), credentials(env), rate_limit(env))


RATE_LIMIT = "SAIL_RATE_LIMIT"


def rate_limit(env: Mapping[str, str]) -> Limit | None:
    """The tenant's rate limit: SAIL_RATE_LIMIT (`--rate-limit` sets it), such as 100/10s (the
    ISC default, when unset) or `off`."""
    given = _set(env.get(RATE_LIMIT))
    if given is None:
        return Limit()
    try:
        return Limit.parse(given)
    except ValueError as exc:
        raise ConfigError(f"the rate limit (--rate-limit or {RATE_LIMIT}): {exc}") from None


def _given(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _trusted(manifest: Manifest, url: str, env: Mapping[str, str]) -> str:
    """The manifest's URL, if the credentials may go to its host; else a ConfigError at
    `file:line: tenant.base_url` naming the host and the fix."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ipv6 address, say
        parts = urlsplit("")
    netloc = _NETLOC.fullmatch(parts.netloc)
    if netloc is None:
        shown = "(not shown: it may hold a password)" if "@" in url else repr(url)
        raise ConfigError(
            f"{_where(manifest)}: tenant.base_url: {shown} is not a plain https://host URL "
            "(no user name, escapes or backslashes), so rmsync will not send it the credentials "
            "from the environment; name the tenant with SAIL_BASE_URL or --base-url"
        )
    host = netloc["host"].lower().strip("[]")
    allowed = {h.strip().lower().strip("[]") for h in env.get(ALLOWED_HOSTS, "").split(",")}
    if host in allowed - {""} or sailpoint_host(host):
        return url
    domains = ", ".join(f"*.{d}" for d in SAILPOINT_DOMAINS)
    raise ConfigError(
        f"{_where(manifest)}: tenant.base_url: {host} is not a SailPoint tenant ({domains}), "
        "so rmsync will not send it the credentials from the environment; name the tenant "
        f"with SAIL_BASE_URL or --base-url, or, if you trust {host}, add it to {ALLOWED_HOSTS}"
    )


def sailpoint_host(host: str) -> bool:
    """A tenant host of SailPoint's own: a subdomain of a SailPoint tenant domain."""
    host = host.lower()
    return any(host.endswith(f".{domain}") for domain in SAILPOINT_DOMAINS)


def _where(manifest: Manifest) -> str:
    """`file:line` of the manifest's tenant.base_url (the manifest was read without error)."""
    for file in manifest.files:
        try:
            doc = load_file(Path(file))
        except (DocumentError, OSError):
            continue
        tenant = doc.data.get("tenant") if isinstance(doc.data, dict) else None
        if isinstance(tenant, dict) and "base_url" in tenant:
            return f"{file}:{doc.line_of(('tenant', 'base_url'))}"
    return str(manifest.files[0] if len(manifest.files) == 1 else manifest.folder)


def has_credentials(env: Mapping[str, str]) -> bool:
    """Whether any credential is set (a half-set pair is an error `credentials` explains);
    empty or blank counts as unset, as for SAIL_BASE_URL."""
    names = ("SAIL_ACCESS_TOKEN", "SAIL_CLIENT_ID", "SAIL_CLIENT_SECRET")
    return any(_set(env.get(k)) for k in names)


def _set(value: str | None) -> str | None:
    """The value as given, unless it is empty or blank (then unset): never trimmed, since a
    secret is what it is."""
    return value if value and value.strip() else None


_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space: what a bearer token is


def credentials(env: Mapping[str, str]) -> Credentials:
    token = _given(env.get("SAIL_ACCESS_TOKEN"))
    if token is not None and not _TOKEN.fullmatch(token):
        raise ConfigError(  # never shown: it is a secret, even when malformed
            "SAIL_ACCESS_TOKEN is not a token: it holds a space, a line break or a character "
            "outside printable ASCII; set it to the token alone"
        )
    client_id, secret = _set(env.get("SAIL_CLIENT_ID")), _set(env.get("SAIL_CLIENT_SECRET"))
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
