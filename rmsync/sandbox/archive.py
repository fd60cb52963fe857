"""The export archive: a zip of CSV files describing one potential role.

Owns: choosing which entitlements an export includes and writing the zip bytes,
byte-identical for the same role state and parameters.
Must not: know about HTTP, time or export progress.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence

from rmsync.sandbox.seed import Identity, RoleEntitlement

IDENTITIES_CSV = "identities.csv"
ENTITLEMENTS_CSV = "entitlements.csv"


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


def identity_count(popularity: float, identities: int) -> int:
    """How many of a role's identities hold an entitlement of this popularity."""
    return round(popularity * identities / 100)


def build_zip(
    identities: Sequence[Identity],
    entitlements: Sequence[RoleEntitlement],
    stamp: tuple[int, int, int, int, int, int],
) -> bytes:
    """The archive bytes; `stamp` (the role's modified time) dates every member."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, rows in (
            (IDENTITIES_CSV, _identity_rows(identities)),
            (ENTITLEMENTS_CSV, _entitlement_rows(entitlements, len(identities))),
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


def _identity_rows(identities: Sequence[Identity]) -> list[list[str]]:
    keys = sorted({k for i in identities for k, _ in i.attributes})
    rows = [["id", "name", "email", *keys]]
    for ident in sorted(identities, key=lambda i: (i.name, i.id)):
        attrs = dict(ident.attributes)
        rows.append([ident.id, ident.name, ident.email, *(attrs.get(k, "") for k in keys)])
    return rows


def _entitlement_rows(
    entitlements: Sequence[RoleEntitlement], identities: int
) -> list[list[object]]:
    rows: list[list[object]] = [
        [
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
        ]
    ]
    for item in entitlements:
        e = item.entitlement
        rows.append(
            [
                e.id,
                e.name,
                e.attribute,
                e.description or "",
                e.source.id,
                e.source.name,
                f"{item.popularity:g}",
                f"{e.popularity_in_org:g}",
                identity_count(item.popularity, identities),
                str(e.common_access).lower(),
            ]
        )
    return rows
