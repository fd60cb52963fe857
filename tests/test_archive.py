"""Reading saved archives by their headers: real zips on disk, in every layout rmsync has met
(the sandbox's plain one, the titled one, unknown ones), and comparing two of them."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmsync import archive
from rmsync.archive import ArchiveData, ArchivedEntitlement, ArchiveUnreadable, Moved
from rmsync.models import Content

Rows = Sequence[Sequence[object]]

ALICE, BOB, CAROL = "id-alice", "id-bob", "id-carol"
PLAIN_IDENTITIES: Rows = [
    ["id", "name", "email", "department"],
    [ALICE, "Alice Archer", "alice@example.com", "Finance"],
    [BOB, "Bob Baker", "bob@example.com", "Finance"],
]
PLAIN_ENTITLEMENTS: Rows = [
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
    ],
    ["ent-1", "GL Post", "role", "", "src-1", "SAP", "100", "5", "2", "false"],
    ["ent-2", "AP Approve", "role", "Approves", "src-1", "SAP", "50", "2", "1", "false"],
]
TITLED_IDENTITIES: Rows = [
    ["Identity ID", "Display Name", "Email", "Department"],
    [ALICE, "Alice Archer", "alice@example.com", "Finance"],
    [BOB, "Bob Baker", "bob@example.com", "Finance"],
]
TITLED_HEADER = [
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
]
TITLED_ENTITLEMENTS: Rows = [
    TITLED_HEADER,
    ["ent-1", "GL Post", "SAP", "role", "100", "5", "2", "Alice Archer; Bob Baker", "", "3"],
    ["ent-2", "AP Approve", "SAP", "role", "50", "2", "1", "Alice Archer", "Bob Baker", "7"],
]


def csv_text(rows: Rows, newline: str = "\n", delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=newline, delimiter=delimiter).writerows(rows)
    return out.getvalue()


def make_zip(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def plain(tmp_path: Path, name: str = "plain.zip") -> Path:
    return make_zip(
        tmp_path / name,
        {
            "identities.csv": csv_text(PLAIN_IDENTITIES),
            "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS),
        },
    )


EXPECTED_ENTITLEMENTS = (
    ArchivedEntitlement("ent-1", "GL Post", "SAP", 2),
    ArchivedEntitlement("ent-2", "AP Approve", "SAP", 1),
)


def digest(identities: list[str], entitlements: list[str]) -> str:
    text = "".join(f"{i}\n" for i in sorted(identities))
    text += "".join(f"{e}\n" for e in sorted(entitlements))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# -- layouts ----------------------------------------------------------------------------------


def test_the_sandbox_s_plain_layout_is_read(tmp_path: Path) -> None:
    data = archive.read(plain(tmp_path))
    assert data.identities == (ALICE, BOB)
    assert data.entitlements == EXPECTED_ENTITLEMENTS
    assert data.names == {ALICE: "Alice Archer", BOB: "Bob Baker"}
    assert data.unread == ()  # the identities' other columns are their attributes


def test_the_titled_layout_is_read_the_same(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "titled.zip",
        {
            "Identities.csv": csv_text(TITLED_IDENTITIES),
            "Entitlements.csv": csv_text(TITLED_ENTITLEMENTS),
        },
    )
    data = archive.read(path)
    assert data.identities == (ALICE, BOB)
    assert data.entitlements == EXPECTED_ENTITLEMENTS
    assert data.names == {ALICE: "Alice Archer", BOB: "Bob Baker"}
    assert data.unread == ("Entitlements.csv: 1 column not read: Risk Score",)  # unknown here
    titled, plain_ = archive.summary(data), archive.summary(archive.read(plain(tmp_path)))
    assert (titled.identities, titled.entitlements, titled.digest) == (
        plain_.identities,
        plain_.entitlements,
        plain_.digest,
    )


def test_files_are_found_by_their_columns_not_their_names(tmp_path: Path) -> None:
    people = [["identity_id", "Display-Name"], [CAROL, "Carol Cook"], [ALICE, "Alice Archer"]]
    access = [
        ["ENTITLEMENT_ID", "entitlement name", "application", "identity count"],
        ["ent-9", "Vault read", "Vault", "2"],
    ]
    path = make_zip(
        tmp_path / "odd.zip",
        {"export/a.csv": csv_text(access), "export/b.csv": csv_text(people)},
    )
    data = archive.read(path)
    assert data.identities == (ALICE, CAROL)
    assert data.entitlements == (ArchivedEntitlement("ent-9", "Vault read", "Vault", 2),)
    assert data.unread == ()


def test_holders_are_counted_from_included_identities_without_a_count_column(
    tmp_path: Path,
) -> None:
    rows = [
        ["Entitlement ID", "Entitlement Name", "Application", "Included Identities"],
        ["ent-1", "GL Post", "SAP", "Alice Archer; Bob Baker;Carol Cook"],
        ["ent-2", "AP Approve", "SAP", "Alice Archer\nBob Baker\n"],
        ["ent-3", "AR View", "SAP", ""],
    ]
    path = make_zip(
        tmp_path / "a.zip",
        {"Identities.csv": csv_text(TITLED_IDENTITIES), "Entitlements.csv": csv_text(rows)},
    )
    data = archive.read(path)
    assert [(e.id, e.holders) for e in data.entitlements] == [
        ("ent-1", 3),
        ("ent-2", 2),
        ("ent-3", 0),
    ]
    # the names in Included Identities are counted, never kept
    assert "Carol Cook" not in repr(data)


def test_an_entitlement_without_any_holder_column_has_no_count(tmp_path: Path) -> None:
    rows = [["Entitlement ID", "Entitlement Name", "Source Name"], ["ent-1", "GL Post", "SAP"]]
    path = make_zip(tmp_path / "a.zip", {"entitlements.csv": csv_text(rows)})
    data = archive.read(path)
    assert data.entitlements == (ArchivedEntitlement("ent-1", "GL Post", "SAP", None),)
    assert data.unread == ("no identities file (a CSV file with an identity id column)",)


# -- text as it comes ------------------------------------------------------------------------


def test_a_bom_crlf_and_quoted_fields_with_newlines_are_read(tmp_path: Path) -> None:
    identities = "\ufeff" + csv_text(TITLED_IDENTITIES, newline="\r\n")
    entitlements = csv_text(
        [
            [*TITLED_HEADER[:4], "Identity Count"],
            ["ent-1", "GL Post,\r\nmulti-line", "SAP", "role", "2"],
            ["ent-2", 'AP "Approve"', "SAP", "role", "1"],
        ],
        newline="\r\n",
    )
    path = make_zip(
        tmp_path / "a.zip",
        {"Identities.csv": identities.encode("utf-8"), "Entitlements.csv": entitlements},
    )
    data = archive.read(path)
    assert data.identities == (ALICE, BOB)
    assert [e.name for e in data.entitlements] == ["GL Post,\r\nmulti-line", 'AP "Approve"']
    assert data.unread == ()


def test_a_semicolon_separated_file_is_read(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "a.zip",
        {
            "identities.csv": csv_text(PLAIN_IDENTITIES, delimiter=";"),
            "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS, delimiter=";"),
        },
    )
    data = archive.read(path)
    assert data.identities == (ALICE, BOB)
    assert data.entitlements == EXPECTED_ENTITLEMENTS


def test_what_cannot_be_read_is_said_in_counts_never_with_a_person_s_value(
    tmp_path: Path,
) -> None:
    identities = [
        ["id", "name", "email"],
        [ALICE, "Alice Archer", "alice@example.com"],
        [ALICE, "Alice Again", "alice2@example.com"],  # the same id again
        ["", "Nobody Known", "nobody@example.com"],  # no id
        [BOB, "Bob Baker"],  # a field short
        [],  # blank lines are nothing
    ]
    entitlements = [
        ["id", "name", "source_name", "identity_count", "shoe size"],
        ["ent-1", "GL Post", "SAP", "two", "44"],
        ["ent-2", "AP Approve", "SAP", "1", "42", "extra"],
    ]
    path = make_zip(
        tmp_path / "a.zip",
        {
            "identities.csv": csv_text(identities),
            "entitlements.csv": csv_text(entitlements),
            "notes.txt": "Carol Cook asked for this export",
            "people.csv": csv_text([["first", "last"], ["Carol", "Cook"]]),
            "empty.csv": "",
            "docs/": "",
        },
    )
    data = archive.read(path)
    assert data.identities == (ALICE,)
    assert data.entitlements == (ArchivedEntitlement("ent-1", "GL Post", "SAP", None),)
    assert data.unread == (
        "empty.csv: empty",
        "entitlements.csv: 1 column not read: shoe size",
        "entitlements.csv: 1 row not read (malformed: fields unlike the header's, or no id)",
        "entitlements.csv: 1 holder count is not a whole number",
        "identities.csv: 2 rows not read (malformed: fields unlike the header's, or no id)",
        "identities.csv: 1 row repeats an id listed before",
        "notes.txt: not a CSV file",
        "people.csv: a CSV file that lists neither identities nor entitlements",
    )
    said = " ".join(data.unread)
    for value in ("Alice", "Carol", "Cook", "Nobody", "example.com", "two", "44"):
        assert value not in said


def test_a_file_with_no_id_column_is_not_read(tmp_path: Path) -> None:
    rows = [["Display Name", "Email"], ["Alice Archer", "alice@example.com"]]
    path = make_zip(
        tmp_path / "a.zip",
        {"identities.csv": csv_text(rows), "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS)},
    )
    data = archive.read(path)
    assert data.identities == ()
    assert data.unread == (
        "identities.csv: no id column, not read",
        "no identities file (a CSV file with an identity id column)",
    )


def test_a_second_file_of_the_same_kind_is_not_read(tmp_path: Path) -> None:
    more = [["id", "name", "email"], [CAROL, "Carol Cook", "c@example.com"]]
    path = make_zip(
        tmp_path / "a.zip",
        {
            "identities.csv": csv_text(PLAIN_IDENTITIES),
            "identities-2.csv": csv_text(more),
            "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS),
        },
    )
    data = archive.read(path)
    assert data.identities == (ALICE, BOB)
    assert "identities-2.csv: a second identities file, not read" in data.unread


def test_bytes_that_are_not_utf8_are_replaced_and_said(tmp_path: Path) -> None:
    text = csv_text([["id", "name"], ["id-caf\xe9", "Caf\xe9"]]).encode("latin-1")
    path = make_zip(
        tmp_path / "a.zip",
        {"identities.csv": text, "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS)},
    )
    data = archive.read(path)
    assert data.identities == ("id-caf\ufffd",)
    assert data.unread == ("identities.csv: not UTF-8 text: 1 row had bytes replaced",)


def test_a_member_that_is_damaged_is_not_read(tmp_path: Path) -> None:
    body = csv_text([["id", "name"], *([f"id-{n}", f"person {n}"] for n in range(3000))])
    path = make_zip(
        tmp_path / "a.zip",
        {"identities.csv": body, "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS)},
    )
    raw = bytearray(path.read_bytes())
    raw[200:220] = bytes(20)  # inside the identities' deflate stream
    path.write_bytes(bytes(raw))
    data = archive.read(path)
    assert data.identities == ()
    assert "identities.csv: damaged, not read" in data.unread
    assert data.entitlements == EXPECTED_ENTITLEMENTS


def test_a_field_longer_than_csv_s_default_limit_is_read(tmp_path: Path) -> None:
    many = "; ".join(f"Person {n}" for n in range(20_000))  # ~250 KB in one field
    rows = [["Entitlement ID", "Entitlement Name", "Application", "Included Identities"]]
    rows.append(["ent-1", "All staff", "AD", many])
    path = make_zip(tmp_path / "a.zip", {"Entitlements.csv": csv_text(rows)})
    assert archive.read(path).entitlements[0].holders == 20_000
    assert csv.field_size_limit() == 131072  # put back as it was


def test_a_file_that_is_not_a_zip_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_text("id,name\n")
    with pytest.raises(ArchiveUnreadable) as caught:
        archive.read(path)
    assert str(caught.value) == f"{path}: not a zip archive rmsync can read"
    with pytest.raises(ArchiveUnreadable, match="no such file"):
        archive.read(tmp_path / "missing.zip")


def test_a_member_is_never_read_past_its_declared_size() -> None:
    longer = io.BytesIO(b"x" * 100)  # a member whose data runs on past what it declares
    with io.BufferedReader(archive._Bounded(longer, 10)) as bounded:
        assert bounded.read() == b"x" * 10
        assert longer.tell() == 10
    assert longer.closed  # closing the reader closes the member


def test_too_many_members_is_an_error(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {f"{n}.txt": "" for n in range(archive.MAX_MEMBERS + 1)})
    with pytest.raises(ArchiveUnreadable, match="members, more than rmsync reads"):
        archive.read(path)


# -- summary ----------------------------------------------------------------------------------


def test_summary_counts_and_digests_ids_only(tmp_path: Path) -> None:
    content = archive.summary(archive.read(plain(tmp_path)))
    assert content == Content(
        identities=2,
        entitlements=2,
        digest=digest([ALICE, BOB], ["ent-1", "ent-2"]),
    )


def test_the_digest_does_not_move_with_names_counts_or_order(tmp_path: Path) -> None:
    shuffled = [PLAIN_IDENTITIES[0], PLAIN_IDENTITIES[2], [ALICE, "Alice Renamed", "a@x", "HR"]]
    path = make_zip(
        tmp_path / "b.zip",
        {
            "identities.csv": csv_text(shuffled),
            "entitlements.csv": csv_text([PLAIN_ENTITLEMENTS[0], *PLAIN_ENTITLEMENTS[:0:-1]]),
        },
    )
    one, two = archive.summary(archive.read(plain(tmp_path))), archive.summary(archive.read(path))
    assert one.digest == two.digest


def test_an_identity_list_hides_names_from_repr(tmp_path: Path) -> None:
    data = archive.read(plain(tmp_path))
    assert "Alice Archer" not in repr(data)
    assert "alice@example.com" not in repr(data)


# -- comparing --------------------------------------------------------------------------------


def test_compare_reports_identities_entitlements_and_moved_counts(tmp_path: Path) -> None:
    old = archive.read(plain(tmp_path))
    new_identities = [PLAIN_IDENTITIES[0], PLAIN_IDENTITIES[2], [CAROL, "Carol Cook", "c@x", ""]]
    new_entitlements = [
        PLAIN_ENTITLEMENTS[0],
        ["ent-1", "GL Post", "role", "", "src-1", "SAP", "100", "5", "3", "false"],
        ["ent-3", "Vault read", "secret", "", "src-2", "Vault", "10", "1", "1", "false"],
    ]
    new = archive.read(
        make_zip(
            tmp_path / "new.zip",
            {
                "identities.csv": csv_text(new_identities),
                "entitlements.csv": csv_text(new_entitlements),
            },
        )
    )
    changes = archive.compare(old, new)
    assert changes.identities_in == (CAROL,)
    assert changes.identities_out == (ALICE,)
    assert changes.entitlements_in == (ArchivedEntitlement("ent-3", "Vault read", "Vault", 1),)
    assert changes.entitlements_out == (ArchivedEntitlement("ent-2", "AP Approve", "SAP", 1),)
    assert changes.holders_moved == (Moved("ent-1", "GL Post", 2, 3),)
    assert not changes.empty


def test_compare_of_the_same_content_is_empty(tmp_path: Path) -> None:
    one, two = archive.read(plain(tmp_path)), archive.read(plain(tmp_path, "again.zip"))
    changes = archive.compare(one, two)
    assert changes.empty
    assert changes == archive.ArchiveChanges((), (), (), (), ())


def test_a_count_the_archive_does_not_give_is_not_a_move(tmp_path: Path) -> None:
    rows = [["Entitlement ID", "Entitlement Name", "Application"], ["ent-1", "GL Post", "SAP"]]
    old = archive.read(make_zip(tmp_path / "o.zip", {"Entitlements.csv": csv_text(rows)}))
    new = archive.read(
        make_zip(tmp_path / "n.zip", {"entitlements.csv": csv_text(PLAIN_ENTITLEMENTS)})
    )
    changes = archive.compare(old, new)
    assert changes.holders_moved == ()
    assert [e.id for e in changes.entitlements_in] == ["ent-2"]


# -- previous ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "kept"),
    [
        ("exports/acme.zip", "exports/acme.previous.zip"),
        ("acme", "acme.previous"),
        ("a/acme.export.zip", "a/acme.export.previous.zip"),
    ],
)
def test_previous_path_sits_beside_the_archive(place: str, kept: str) -> None:
    assert archive.previous_path(Path(place)) == Path(kept)


IDS = st.sampled_from([f"id-{n}" for n in range(12)])


def _data(identities: set[str], counts: dict[str, int | None]) -> ArchiveData:
    entitlements = tuple(
        ArchivedEntitlement(key, f"name {key}", "src", n) for key, n in sorted(counts.items())
    )
    return ArchiveData(identities=tuple(sorted(identities)), entitlements=entitlements)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(
    st.sets(IDS),
    st.sets(IDS),
    st.dictionaries(IDS, st.none() | st.integers(0, 3)),
    st.dictionaries(IDS, st.none() | st.integers(0, 3)),
)
def test_compare_agrees_with_set_arithmetic_however_much_changed(
    old_ids: set[str],
    new_ids: set[str],
    old_counts: dict[str, int | None],
    new_counts: dict[str, int | None],
) -> None:
    changes = archive.compare(_data(old_ids, old_counts), _data(new_ids, new_counts))
    assert changes.identities_in == tuple(sorted(new_ids - old_ids))
    assert changes.identities_out == tuple(sorted(old_ids - new_ids))
    assert [e.id for e in changes.entitlements_in] == sorted(new_counts.keys() - old_counts.keys())
    assert [e.id for e in changes.entitlements_out] == sorted(old_counts.keys() - new_counts.keys())
    moved = [
        (k, old_counts[k], new_counts[k])
        for k in sorted(old_counts.keys() & new_counts.keys())
        if None not in (old_counts[k], new_counts[k]) and old_counts[k] != new_counts[k]
    ]
    assert [(m.id, m.old, m.new) for m in changes.holders_moved] == moved


def test_an_identity_column_that_may_hold_names_is_not_taken_for_ids(tmp_path: Path) -> None:
    rows = [["Identity", "Email", "Department"], ["Jane Doe", "jane@x.example", "Finance"]]
    data = archive.read(
        make_zip(
            tmp_path / "a.zip",
            {"Identities.csv": csv_text(rows), "entitlements.csv": csv_text(PLAIN_ENTITLEMENTS)},
        )
    )
    assert data.identities == ()
    assert "Jane Doe" not in repr(data) and all("Jane" not in note for note in data.unread)


def test_a_file_too_large_to_summarise_is_named_not_read(tmp_path: Path) -> None:
    rows = "ent-1,GL Post,role,,src-1,SAP,100,5,2,false\n"
    big = csv_text(PLAIN_ENTITLEMENTS[:1]) + rows * (archive.MAX_FILE_BYTES // len(rows) + 1)
    path = make_zip(
        tmp_path / "a.zip",
        {"identities.csv": csv_text(PLAIN_IDENTITIES), "entitlements.csv": big},
    )
    data = archive.read(path)  # a zip bomb of CSV is never read into memory
    assert data.identities == (ALICE, BOB) and data.entitlements == ()
    size = len(big.encode())
    assert (
        f"entitlements.csv: not read: {size:,} bytes, more than rmsync reads of one file "
        f"({archive.MAX_FILE_BYTES:,})"
    ) in data.unread
