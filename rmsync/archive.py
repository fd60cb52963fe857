"""A saved archive's content: who and what it lists, read by its headers, and what changed.

Owns: reading an export's zip of CSV files without knowing its layout in advance (the real
archive's file names and columns are not documented): the identities file and the entitlements
file are found by their columns, not only their names, and headers match loosely ("Identity
ID", "identity_id" and, in an identities file, "id" are one column); each entitlement's id,
name, source and holder count; the identities' ids, and their names, kept in memory only (for
`rmsync diff --names`, never in a repr, a summary or a sentence); the plain sentences that say
what could not be read (files, columns, rows, in counts); the lockfile's summary (`Content`);
comparing two archives; where an archive's previous version is kept (`previous_path`).
Bounded: no more members than MAX_MEMBERS, no more than MAX_UNPACKED_BYTES declared in all,
and never more of a member than its declared size.
Must not: fetch, write or print, or put a person's value (a name, an email, a cell of a
row) in anything but `ArchiveData.names`. What cannot be read is not an error: it is said in
`unread`; only a file that is not a zip rmsync can open is (ArchiveUnreadable).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from rmsync.errors import RmsyncError
from rmsync.models import Content
from rmsync.safetext import visible

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 4 << 30  # what every member declares, in all
MAX_FILE_BYTES = 64 << 20  # one CSV file read for the summary: a role of ~300,000 people
MAX_FIELD_BYTES = 16 << 20  # one CSV field: "Included Identities" of ~500,000 names
# What reading a member may raise: a damaged deflate stream or CRC, a truncated member, an
# encrypted one, a compression method Python lacks.
UNREADABLE: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
)

# Headers are compared with case, spaces, underscores, hyphens and dots taken out.
_NOISE = re.compile(r"[\s_\-.]+")
# A column's possible names, most specific first.
_IDENTITY_ID = ("identityid", "id")  # not "Identity": that column often holds a name
_IDENTITY_NAME = ("displayname", "name", "identityname", "fullname")
_ENTITLEMENT_ID = ("entitlementid", "id")
_ENTITLEMENT_NAME = ("entitlementname", "name", "displayname", "entitlement")
_SOURCE = ("sourcename", "application", "applicationname", "source", "app", "sourceid")
_HOLDERS = ("identitycount", "identitiescount", "holders", "holdercount", "holderscount")
_INCLUDED = ("includedidentities",)
# Columns rmsync knows and leaves on purpose: not reported as unread.
_ENTITLEMENT_LEFT = frozenset(
    {
        "attribute",
        "value",
        "description",
        "sourceid",
        "popularity",
        "popularityinorg",
        "commonaccess",
        "missingidentities",
        *_INCLUDED,
    }
)
# What tells the two files apart (besides an id column): the columns each tends to have.
_ENTITLEMENT_SIGNS = frozenset(
    {
        "entitlementid",
        "entitlementname",
        "entitlement",
        "application",
        "applicationname",
        "sourcename",
        "sourceid",
        "source",
        "attribute",
        "popularity",
        "popularityinorg",
        "identitycount",
        "includedidentities",
        "missingidentities",
        "commonaccess",
        "riskscore",
    }
)
_IDENTITY_SIGNS = frozenset(
    {
        "identityid",
        "displayname",
        "email",
        "emailaddress",
        "username",
        "firstname",
        "lastname",
        "manager",
        "department",
    }
)
_IDENTITIES, _ENTITLEMENTS = "identities", "entitlements"
_SHOWN_COLUMNS = 10  # an unread sentence names at most this many columns
_SPLIT = re.compile(r"[;\r\n]+")  # how "Included Identities" separates the people it lists


class ArchiveUnreadable(RmsyncError):
    """A saved archive is not a zip rmsync can open, or is larger than it reads."""


@dataclass(frozen=True, order=True)
class ArchivedEntitlement:
    """One entitlement as an archive lists it; `holders` is None where the archive does not
    say how many of the role's members hold it."""

    id: str
    name: str
    source: str
    holders: int | None


@dataclass(frozen=True)
class ArchiveData:
    """What an archive lists: identity ids (sorted), entitlements (sorted by id), and what
    could not be read. `names` (identity id → display name) is personal data: kept in memory
    for `rmsync diff --names`, left out of repr and comparisons."""

    identities: tuple[str, ...]
    entitlements: tuple[ArchivedEntitlement, ...]
    unread: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Moved:
    """An entitlement listed in both archives whose holder count changed."""

    id: str
    name: str
    old: int
    new: int


@dataclass(frozen=True)
class ArchiveChanges:
    """From one archive to the next: identity ids in and out, entitlements in and out, and
    the holder counts that moved; each sorted by id."""

    identities_in: tuple[str, ...]
    identities_out: tuple[str, ...]
    entitlements_in: tuple[ArchivedEntitlement, ...]
    entitlements_out: tuple[ArchivedEntitlement, ...]
    holders_moved: tuple[Moved, ...]

    @property
    def empty(self) -> bool:
        return not (
            self.identities_in
            or self.identities_out
            or self.entitlements_in
            or self.entitlements_out
            or self.holders_moved
        )


def previous_path(path: Path) -> Path:
    """Where an archive's previous version is kept: exports/acme.zip → exports/acme.previous.zip."""
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def read(source: Path | BinaryIO) -> ArchiveData:
    """Read an archive (a path, or an open binary file positioned anywhere) by its headers.
    Raise ArchiveUnreadable only if it is no zip at all, or too large to read."""
    if isinstance(source, Path):
        try:
            with source.open("rb") as handle:
                return _read(handle, str(source))
        except FileNotFoundError:
            raise ArchiveUnreadable(f"{source}: no such file") from None
        except IsADirectoryError:
            raise ArchiveUnreadable(f"{source}: a folder, not an archive") from None
        except OSError as exc:
            raise ArchiveUnreadable(f"{source}: cannot be read: {exc.strerror or exc}") from None
    return _read(source, "the archive")


def _read(handle: BinaryIO, where: str) -> ArchiveData:
    try:
        handle.seek(0)
        zipped = zipfile.ZipFile(handle)
    except UNREADABLE:  # no central directory rmsync can read
        raise ArchiveUnreadable(f"{where}: not a zip archive rmsync can read") from None
    with zipped:
        return _Reader(zipped).read()  # a member's own failure is only unread


def summary(data: ArchiveData) -> Content:
    """The lockfile's account of an archive: counts, a digest of the ids, what was unread."""
    text = "".join(f"{i}\n" for i in sorted(data.identities))
    text += "".join(f"{e}\n" for e in sorted(e.id for e in data.entitlements))
    return Content(
        identities=len(data.identities),
        entitlements=len(data.entitlements),
        digest="sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
        unread=data.unread,
    )


def compare(old: ArchiveData, new: ArchiveData) -> ArchiveChanges:
    """What changed from `old` to `new`. A holder count counts as moved only where both
    archives give one."""
    before, after = _comparable(old), _comparable(new)
    if before == after:
        return ArchiveChanges((), (), (), (), ())
    from deepdiff import DeepDiff  # slow to load: only when two archives differ

    # threshold_to_diff_deeper=0: always item by item; by default deepdiff (8+) reports a
    # mapping that shares under a third of its keys as one changed value.
    tree = DeepDiff(before, after, view="tree", threshold_to_diff_deeper=0)

    def added(kind: str) -> list[str]:  # a set's items: the identity ids
        return [str(level.t2) for level in tree.get(kind, ())]

    def removed(kind: str) -> list[str]:
        return [str(level.t1) for level in tree.get(kind, ())]

    def ids(kind: str) -> list[str]:  # a dict's keys: the entitlement ids
        return [str(level.path(output_format="list")[1]) for level in tree.get(kind, ())]

    olds = {e.id: e for e in old.entitlements}
    news = {e.id: e for e in new.entitlements}
    moved = [  # a count one archive does not give (None) is a type change, not a move
        Moved(key, news[key].name, old_count, new_count)
        for key in ids("values_changed")
        if (old_count := olds[key].holders) is not None
        and (new_count := news[key].holders) is not None
    ]
    return ArchiveChanges(
        identities_in=tuple(sorted(added("set_item_added"))),
        identities_out=tuple(sorted(removed("set_item_removed"))),
        entitlements_in=tuple(sorted(news[key] for key in ids("dictionary_item_added"))),
        entitlements_out=tuple(sorted(olds[key] for key in ids("dictionary_item_removed"))),
        holders_moved=tuple(sorted(moved, key=lambda m: m.id)),
    )


def _comparable(data: ArchiveData) -> dict[str, object]:
    return {
        _IDENTITIES: set(data.identities),
        _ENTITLEMENTS: {e.id: e.holders for e in data.entitlements},
    }


# -- reading ---------------------------------------------------------------------------------


def _key(header: str) -> str:
    return _NOISE.sub("", header.strip().lstrip("\ufeff")).lower()


def _column(keys: Sequence[str], names: Sequence[str]) -> int | None:
    """The index of the first of `names` (most specific first) among the header's keys."""
    for name in names:
        if name in keys:
            return keys.index(name)
    return None


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


class _Bounded(io.RawIOBase):
    """A member's bytes, never more than it declares."""

    def __init__(self, raw: IO[bytes], size: int) -> None:
        self._raw, self._left = raw, size

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._left)
        if want <= 0:
            return 0
        data = self._raw.read(want)
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)


@dataclass(frozen=True)
class _Candidate:
    """A CSV file that looks like one of the two kinds, and how much it does."""

    info: zipfile.ZipInfo
    kind: str
    score: int
    headers: list[str]
    keys: list[str]
    delimiter: str


@dataclass
class _Tally:
    """What reading one file's rows met, beyond the rows it gave."""

    malformed: int = 0  # fields unlike the header's, or no id
    repeated: int = 0  # an id listed before
    replaced: int = 0  # bytes that were not UTF-8
    broken_at: int | None = None  # the line where the text stopped being CSV


class _Reader:
    """One pass over one open zip: classify its CSV files, read the two chosen ones, and
    note, file by file, what could not be read."""

    def __init__(self, zipped: zipfile.ZipFile) -> None:
        self.zipped = zipped
        self.notes: dict[str, list[str]] = {}

    def note(self, member: str, sentence: str) -> None:
        self.notes.setdefault(member, []).append(f"{_shown(member)}: {sentence}")

    def read(self) -> ArchiveData:
        members = [i for i in self.zipped.infolist() if not i.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise ArchiveUnreadable(
                f"the archive has {len(members):,} members, more than rmsync reads "
                f"({MAX_MEMBERS:,})"
            )
        declared = sum(i.file_size for i in members)
        if declared > MAX_UNPACKED_BYTES:
            raise ArchiveUnreadable(
                f"the archive would unpack to {declared:,} bytes, more than rmsync reads "
                f"({MAX_UNPACKED_BYTES:,})"
            )
        readable = []
        for info in members:  # memory is bounded: no file, and no field, past its limit
            if info.file_size > MAX_FILE_BYTES:
                self.note(
                    info.filename,
                    f"not read: {info.file_size:,} bytes, more than rmsync reads of one file "
                    f"({MAX_FILE_BYTES:,})",
                )
            else:
                readable.append(info)
        old_limit = csv.field_size_limit()
        longest = max([0, *(i.file_size + 1 for i in readable)])
        csv.field_size_limit(max(old_limit, min(longest, MAX_FIELD_BYTES)))
        try:
            return self._read(sorted(readable, key=lambda i: i.filename))
        finally:
            csv.field_size_limit(old_limit)

    def _read(self, members: list[zipfile.ZipInfo]) -> ArchiveData:
        candidates = [c for c in map(self._classify, members) if c is not None]
        chosen: dict[str, _Candidate] = {}
        for candidate in candidates:  # the first of the highest score, in name order
            best = chosen.get(candidate.kind)
            if best is None or candidate.score > best.score:
                chosen[candidate.kind] = candidate
        for candidate in candidates:
            if chosen[candidate.kind] is not candidate:
                self.note(candidate.info.filename, f"a second {candidate.kind} file, not read")
        identities = self._identities(chosen[_IDENTITIES]) if _IDENTITIES in chosen else None
        entitlements = (
            self._entitlements(chosen[_ENTITLEMENTS]) if _ENTITLEMENTS in chosen else None
        )
        unread = [s for member in sorted(self.notes) for s in self.notes[member]]
        if identities is None:
            unread.append("no identities file (a CSV file with an identity id column)")
        if entitlements is None:
            unread.append("no entitlements file (a CSV file with an entitlement id column)")
        ids, names = identities or ({}, {})
        return ArchiveData(
            identities=tuple(sorted(ids)),
            entitlements=tuple(sorted((entitlements or {}).values())),
            unread=tuple(unread),
            names=names,
        )

    def _classify(self, info: zipfile.ZipInfo) -> _Candidate | None:
        """The file as a candidate identities or entitlements file, or None (noted why)."""
        if not info.filename.lower().endswith(".csv"):
            self.note(info.filename, "not a CSV file")
            return None
        try:
            headers, delimiter = self._header(info)
        except UNREADABLE:
            self.note(info.filename, "damaged, not read")
            return None
        except csv.Error:
            self.note(info.filename, "not CSV text, not read")
            return None
        if not any(h.strip() for h in headers):
            self.note(info.filename, "empty")
            return None
        keys = [_key(h) for h in headers]
        stem = _key(Path(info.filename).stem)
        entitlement = len(_ENTITLEMENT_SIGNS.intersection(keys)) + 2 * ("entitlement" in stem)
        identity = len(_IDENTITY_SIGNS.intersection(keys))
        identity += 2 * ("identit" in stem and "entitlement" not in stem)
        if entitlement == identity:
            self.note(info.filename, "a CSV file that lists neither identities nor entitlements")
            return None
        kind = _ENTITLEMENTS if entitlement > identity else _IDENTITIES
        if _column(keys, _IDENTITY_ID if kind == _IDENTITIES else _ENTITLEMENT_ID) is None:
            self.note(info.filename, "no id column, not read")
            return None
        return _Candidate(info, kind, max(entitlement, identity), headers, keys, delimiter)

    def _open(self, info: zipfile.ZipInfo) -> io.TextIOWrapper:
        raw = _Bounded(self.zipped.open(info), info.file_size)
        return io.TextIOWrapper(
            io.BufferedReader(raw), encoding="utf-8-sig", errors="replace", newline=""
        )

    def _header(self, info: zipfile.ZipInfo) -> tuple[list[str], str]:
        """The first row, and the delimiter: a comma, else a semicolon or a tab if the first
        row has no comma but one of them."""
        with self._open(info) as text:
            headers = next(csv.reader(text), [])
        if len(headers) == 1:
            for other in (";", "\t"):
                if other in headers[0]:
                    with self._open(info) as text:
                        return next(csv.reader(text, delimiter=other), []), other
        return headers, ","

    def _rows(self, chosen: _Candidate, tally: _Tally) -> Iterator[list[str]]:
        """The rows after the header, one at a time (a row's cells, such as the names in
        Included Identities, are not kept beyond it). Blank rows are nothing; a row whose
        fields do not match the header is counted; CSV broken midway ends the file there. A
        damaged member raises one of UNREADABLE: the caller then uses none of it."""
        with self._open(chosen.info) as text:
            reader = csv.reader(text, delimiter=chosen.delimiter)
            next(reader, None)
            try:
                for row in reader:
                    if not any(row):
                        continue
                    tally.replaced += any("\ufffd" in cell for cell in row)
                    if len(row) != len(chosen.keys):
                        tally.malformed += 1
                    else:
                        yield row
            except csv.Error:
                tally.broken_at = reader.line_num

    def _unread_columns(self, chosen: _Candidate, used: set[int], left: frozenset[str]) -> None:
        extra = [
            h
            for n, (h, k) in enumerate(zip(chosen.headers, chosen.keys, strict=True))
            if n not in used and k not in left and h.strip()
        ]
        if not extra:
            return
        shown = ", ".join(_shown(h) for h in extra[:_SHOWN_COLUMNS])
        if len(extra) > _SHOWN_COLUMNS:
            shown += f" and {len(extra) - _SHOWN_COLUMNS:,} more"
        self.note(
            chosen.info.filename, f"{_count(len(extra), 'column', 'columns')} not read: {shown}"
        )

    def _row_notes(self, name: str, tally: _Tally) -> None:
        if tally.malformed:
            rows = _count(tally.malformed, "row", "rows")
            self.note(name, f"{rows} not read (malformed: fields unlike the header's, or no id)")
        if tally.repeated:
            rows = _count(tally.repeated, "row repeats", "rows repeat")
            self.note(name, f"{rows} an id listed before")
        if tally.replaced:
            rows = _count(tally.replaced, "row", "rows")
            self.note(name, f"not UTF-8 text: {rows} had bytes replaced")
        if tally.broken_at is not None:
            self.note(name, f"not read past line {tally.broken_at:,} (not CSV there)")

    def _identities(self, chosen: _Candidate) -> tuple[set[str], dict[str, str]] | None:
        at_id = _column(chosen.keys, _IDENTITY_ID)
        at_name = _column(chosen.keys, _IDENTITY_NAME)
        assert at_id is not None  # a candidate has an id column
        # The identities file's other columns are the people's attributes (department, e-mail,
        # title...): expected, and never needed; they are not "unread".
        ids: set[str] = set()
        names: dict[str, str] = {}
        tally = _Tally()
        try:
            for row in self._rows(chosen, tally):
                identity = row[at_id].strip()
                if not identity:
                    tally.malformed += 1
                elif identity in ids:
                    tally.repeated += 1
                else:
                    ids.add(identity)
                    if at_name is not None:
                        names[identity] = row[at_name].strip()
        except UNREADABLE:
            self.note(chosen.info.filename, "damaged, not read")
            return None
        self._row_notes(chosen.info.filename, tally)
        return ids, names

    def _entitlements(self, chosen: _Candidate) -> dict[str, ArchivedEntitlement] | None:
        at_id = _column(chosen.keys, _ENTITLEMENT_ID)
        at_name = _column(chosen.keys, _ENTITLEMENT_NAME)
        at_source = _column(chosen.keys, _SOURCE)
        at_count = _column(chosen.keys, _HOLDERS)
        at_included = _column(chosen.keys, _INCLUDED)
        assert at_id is not None  # a candidate has an id column
        used = _used(at_id, at_name, at_source, at_count, at_included)
        self._unread_columns(chosen, used, _ENTITLEMENT_LEFT)
        listed: dict[str, ArchivedEntitlement] = {}
        tally, uncounted = _Tally(), 0
        try:
            for row in self._rows(chosen, tally):
                entitlement = row[at_id].strip()
                if not entitlement:
                    tally.malformed += 1
                    continue
                if entitlement in listed:
                    tally.repeated += 1
                    continue
                holders = _holders(row, at_count, at_included)
                uncounted += holders == _NOT_A_NUMBER
                listed[entitlement] = ArchivedEntitlement(
                    id=entitlement,
                    name="" if at_name is None else row[at_name].strip(),
                    source="" if at_source is None else row[at_source].strip(),
                    holders=None if holders == _NOT_A_NUMBER else holders,
                )
        except UNREADABLE:
            self.note(chosen.info.filename, "damaged, not read")
            return None
        self._row_notes(chosen.info.filename, tally)
        if uncounted:
            counts = _count(uncounted, "holder count is", "holder counts are")
            self.note(chosen.info.filename, f"{counts} not a whole number")
        return listed


def _used(*columns: int | None) -> set[int]:
    return {c for c in columns if c is not None}


_NOT_A_NUMBER = -1
_WHOLE = re.compile(r"[0-9][0-9,]*(?:\.0*)?")


def _holders(row: list[str], at_count: int | None, at_included: int | None) -> int | None:
    """How many hold an entitlement: its count column (_NOT_A_NUMBER if that is no whole
    number), else the people Included Identities lists (counted, never kept), else None."""
    text = "" if at_count is None else row[at_count].strip()
    if text:
        if not _WHOLE.fullmatch(text):
            return _NOT_A_NUMBER
        return int(text.partition(".")[0].replace(",", ""))
    if at_included is not None:
        return sum(1 for part in _SPLIT.split(row[at_included]) if part.strip())
    return None


def _shown(text: str) -> str:
    """A file or column name from the archive, safe and short enough for a sentence."""
    shown = visible(text)
    return shown if len(shown) <= 60 else shown[:59] + "…"
