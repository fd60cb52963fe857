"""The export archive: a zip of CSV files describing one potential role.

Owns: choosing which entitlements an export includes and writing the zip bytes in one of
the layouts (file names and columns), byte-identical for the same role state and parameters.
Must not: know about HTTP, time or export progress.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import Literal

from rmsync.sandbox.seed import Identity, RoleEntitlement

ArchiveLayout = Literal["rmsync", "titled"]
LAYOUTS: tuple[ArchiveLayout, ...] = ("rmsync", "titled")
# The file names and headers of each layout. The real tenant documents neither, so the
# sandbox serves two variants: rmsync's own and a title-case one with a column more.
IDENTITIES_CSV = "identities.csv"
ENTITLEMENTS_CSV = "entitlements.csv"
SEPARATOR = "; "  # between the display names in the Included / Missing Identities columns
_NAMES: dict[ArchiveLayout, tuple[str, str]] = {
    "rmsync": (IDENTITIES_CSV, ENTITLEMENTS_CSV),
    "titled": ("Identities.csv", "Entitlements.csv"),
}
_IDENTITY_HEADERS: dict[ArchiveLayout, tuple[str, ...]] = {
    "rmsync": ("id", "name", "email"),
    "titled": ("Identity ID", "Display Name", "Email"),
}
ENTITLEMENT_HEADERS: dict[ArchiveLayout, tuple[str, ...]] = {
    "rmsync": (
        "id",
        "name",
        "attribute",
        "description",
        "source_id",
        "source_name",
        "popularity",
        "popularity_in_org",
        "identity_count",
        "common_access",
        "Included Identities",
        "Missing Identities",
    ),
    "titled": (
        "Entitlement ID",
        "Entitlement Name",
        "Application",
        "Attribute",
        "Popularity",
        "Popularity In Org",
        "Identity Count",
        "Included Identities",
        "Missing Identities",
        "Risk Score",
    ),
}


def file_names(layout: ArchiveLayout) -> tuple[str, str]:
    """The identities and the entitlements file of an archive in `layout`."""
    return _NAMES[layout]


def included(
    entitlements: Iterable[RoleEntitlement],
    excluded: Iterable[str],
    min_popularity: int,
    include_common: bool,
) -> list[RoleEntitlement]:
    """The entitlements an export with these parameters lists, in a stable order."""
    skip = set(excluded)
    return sorted(
        (
            e
            for e in entitlements
            if e.entitlement.id not in skip
            and e.popularity >= min_popularity
            and (include_common or not e.entitlement.common_access)
        ),
        key=lambda e: (-e.popularity, e.entitlement.name, e.entitlement.id),
    )


def build_zip(
    identities: Sequence[Identity],
    entitlements: Sequence[RoleEntitlement],
    stamp: tuple[int, int, int, int, int, int],
    layout: ArchiveLayout = "rmsync",
) -> bytes:
    """The archive bytes; `stamp` (the role's modified time) dates every member."""
    identities_csv, entitlements_csv = file_names(layout)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, rows in (
            (identities_csv, _identity_rows(identities, layout)),
            (entitlements_csv, _entitlement_rows(entitlements, identities, layout)),
        ):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, _csv(rows))
    return buffer.getvalue()


def _csv(rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue()


def _identity_rows(identities: Sequence[Identity], layout: ArchiveLayout) -> list[list[str]]:
    keys = sorted({k for i in identities for k, _ in i.attributes})
    rows = [[*_IDENTITY_HEADERS[layout], *keys]]
    for ident in _by_name(identities):
        attrs = dict(ident.attributes)
        rows.append([ident.id, ident.name, ident.email, *(attrs.get(k, "") for k in keys)])
    return rows


def _entitlement_rows(
    entitlements: Sequence[RoleEntitlement], identities: Sequence[Identity], layout: ArchiveLayout
) -> list[list[object]]:
    members = _by_name(identities)
    rows: list[list[object]] = [list(ENTITLEMENT_HEADERS[layout])]
    for item in entitlements:
        e = item.entitlement
        holders = set(item.holders)
        has = SEPARATOR.join(i.name for i in members if i.id in holders)
        lacks = SEPARATOR.join(i.name for i in members if i.id not in holders)
        popularity, in_org = f"{item.popularity:g}", f"{e.popularity_in_org:g}"
        if layout == "titled":
            rows.append(
                [
                    e.id,
                    e.name,
                    e.source.name,
                    e.attribute,
                    popularity,
                    in_org,
                    item.identity_count,
                    has,
                    lacks,
                    _risk_score(e.id),
                ]
            )
            continue
        rows.append(
            [
                e.id,
                e.name,
                e.attribute,
                e.description or "",
                e.source.id,
                e.source.name,
                popularity,
                in_org,
                item.identity_count,
                str(e.common_access).lower(),
                has,
                lacks,
            ]
        )
    return rows


def _by_name(identities: Iterable[Identity]) -> list[Identity]:
    return sorted(identities, key=lambda i: (i.name, i.id))


def _risk_score(entitlement_id: str) -> int:
    """A column no reader knows: a stable 0-100 from the entitlement id."""
    return hashlib.sha256(entitlement_id.encode()).digest()[0] * 100 // 255
