"""Fetching archives through a real proxy in front of the sandbox: bodies cut short, bodies too
large, zip bombs, damaged zips, and folders swapped for links while a download is on its way."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rmsync import archive, atomic
from rmsync.api import Client
from rmsync.downloads import ENV_MAX, ArchiveError, fetch
from rmsync.models import Credentials, ExportParams, Record, Request
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from tests.builders import ACCOUNTING, FINANCE, record
from tests.conftest import FakeClock
from tests.proxy import Answer, Proxy, Reply, running

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
PLACE = "exports/a.zip"


def fixed_now() -> str:
    return "2026-11-23T12:00:00Z"


@pytest.fixture
def tenant(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(schedule=Schedule(0, 0))


def started(client: Client) -> Record:
    """A successful export of Accounting core, as the lockfile would record it."""
    job = client.start_export(FINANCE, ACCOUNTING, ExportParams())
    done = record("accounting-core", 0)
    return replace(done, request=Request(FINANCE, ACCOUNTING), export_id=job.export_id)


class Downloads:
    """A reply hook for the proxy: each download's real body is kept, and `shape` decides
    what goes on the wire instead (by default: the real answer)."""

    def __init__(self, shape: Callable[[int, Answer], Answer | Reply] = lambda n, a: a) -> None:
        self.bodies: list[bytes] = []
        self.shape = shape

    def __call__(self, method: str, path: str, answer: Answer) -> Answer | Reply:
        if not path.endswith("/download"):
            return answer
        self.bodies.append(answer[1])
        return self.shape(len(self.bodies), answer)


@pytest.fixture
def client(clock: FakeClock) -> Iterator[Callable[[Proxy], Client]]:
    """A client for a proxy: its backoff sleeps on the fake clock."""
    made: list[Client] = []

    def make(proxy: Proxy) -> Client:
        made.append(Client(proxy.base_url, CREDS, clock=clock, sleep=clock.advance))
        return made[-1]

    yield make
    for one in made:
        one.close()


def saved(folder: Path) -> list[str]:
    """Every file under `folder`, relative to it (temporary files included)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def cut(n: int, answer: Answer) -> Answer | Reply:
    """The first download is cut off after 100 bytes, the others pass."""
    return Reply(*answer, send=100) if n == 1 else answer


def test_a_download_cut_off_mid_stream_starts_again_from_nothing(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    downloads = Downloads(cut)
    with running(Proxy(tenant.base_url, reply=downloads)) as proxy:
        c = client(proxy)
        done = fetch(c, started(c), PLACE, tmp_path, fixed_now)
    whole = downloads.bodies[-1]
    assert len(downloads.bodies) == 2
    assert (tmp_path / PLACE).read_bytes() == whole
    assert done.download is not None
    assert (done.download.size, done.download.sha256) == (
        len(whole),
        hashlib.sha256(whole).hexdigest(),
    )
    assert saved(tmp_path) == [PLACE]


def test_a_download_cut_off_every_time_is_an_archive_error_and_nothing_is_saved(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    downloads = Downloads(lambda n, a: Reply(*a, send=len(a[1]) - 1))
    with running(Proxy(tenant.base_url, reply=downloads)) as proxy:
        c = client(proxy)
        done = started(c)
        with pytest.raises(ArchiveError) as caught:
            fetch(c, done, PLACE, tmp_path, fixed_now)
    assert len(downloads.bodies) == 6
    assert str(caught.value) == (
        f"the archive of export {done.export_id} could not be fetched: GET "
        f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}/export-async/"
        f"{done.export_id}/download: cannot reach {proxy.base_url}: the connection closed "
        "before the answer was complete; nothing was saved"
    )
    assert saved(tmp_path) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_archive_over_the_size_bound_is_refused_and_not_read_to_the_end(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client], chunked: bool
) -> None:
    big = bytes(2_000_000)  # refused before anything looks inside it
    downloads = Downloads(lambda n, a: Reply(a[0], big, a[2], chunked=chunked))
    with running(Proxy(tenant.base_url, reply=downloads)) as proxy:
        c = client(proxy)
        done = started(c)
        with pytest.raises(ArchiveError) as caught:
            fetch(c, done, PLACE, tmp_path, fixed_now, max_bytes=1_000_000)
    assert str(caught.value) == (
        f"the archive of export {done.export_id} is larger than 1,000,000 bytes, "
        f"the most rmsync saves (set {ENV_MAX} to allow more); nothing was saved"
    )
    assert len(downloads.bodies) == 1  # not retried
    assert saved(tmp_path) == []


def test_the_size_bound_comes_from_the_environment(
    tenant: Sandbox,
    tmp_path: Path,
    client: Callable[[Proxy], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        done = started(c)
        monkeypatch.setenv(ENV_MAX, "100")
        with pytest.raises(ArchiveError, match=r"is larger than 100 bytes, the most rmsync saves"):
            fetch(c, done, PLACE, tmp_path, fixed_now)
        monkeypatch.setenv(ENV_MAX, "a lot")
        with pytest.raises(ArchiveError) as caught:
            fetch(c, done, PLACE, tmp_path, fixed_now)
        assert str(caught.value) == (
            f"{ENV_MAX}='a lot' is not a number of bytes (a whole number above 0, "
            "such as 1073741824)"
        )
        monkeypatch.setenv(ENV_MAX, "9" * 5000)
        with pytest.raises(ArchiveError, match="is not a number of bytes"):
            fetch(c, done, PLACE, tmp_path, fixed_now)
        monkeypatch.delenv(ENV_MAX)
        assert fetch(c, done, PLACE, tmp_path, fixed_now).download is not None


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    bomb = zip_of({f"{n}.csv": bytes(16 << 20) for n in range(2)})  # 32 MiB in ~32 KB
    downloads = Downloads(lambda n, a: (a[0], bomb, a[2]))
    with running(Proxy(tenant.base_url, reply=downloads)) as proxy:
        c = client(proxy)
        done = started(c)
        with pytest.raises(ArchiveError) as caught:
            fetch(c, done, PLACE, tmp_path, fixed_now)
    assert str(caught.value) == (
        f"the archive of export {done.export_id} would unpack to {32 << 20:,} bytes from "
        f"{len(bomb):,}, more than rmsync checks ({16 << 20:,}); nothing was saved"
    )
    assert saved(tmp_path) == []


def test_a_zip_with_damaged_compressed_data_is_refused(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    text = "identity,entitlement\n" + "".join(f"id{n},ent{n * 7 % 13}\n" for n in range(2000))
    good = bytearray(zip_of({"roles.csv": text.encode()}))
    good[60:80] = bytes(20)  # inside the deflate stream: the CRC or zlib notices
    downloads = Downloads(lambda n, a: (a[0], bytes(good), a[2]))
    with running(Proxy(tenant.base_url, reply=downloads)) as proxy:
        c = client(proxy)
        done = started(c)
        with pytest.raises(
            ArchiveError, match=f"the archive of export {done.export_id} is damaged"
        ):
            fetch(c, done, PLACE, tmp_path, fixed_now)
    assert saved(tmp_path) == []


# -- folders swapped for links ----------------------------------------------------------------


def swap_for_link(folder: Path, target: Path) -> None:
    """Put a symbolic link to `target` where `folder` was (moved aside, as an attacker would)."""
    folder.rename(folder.with_name(folder.name + ".moved"))
    folder.symlink_to(target, target_is_directory=True)


def test_a_folder_swapped_for_a_link_before_the_download_is_refused(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "exports").mkdir(parents=True)
    outside.mkdir()
    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        done = started(c)
        swap_for_link(project / "exports", outside)
        with pytest.raises(ArchiveError) as caught:
            fetch(c, done, "exports/deeper/a.zip", project, fixed_now)
    assert str(caught.value) == (
        "download: exports/deeper/a.zip: refused: exports/deeper now leads outside the "
        "manifest's folder (through a link); nothing was saved"
    )
    assert proxy.requests("GET", "/download") == []
    assert saved(outside) == []


def test_a_folder_swapped_for_a_link_during_the_download_is_refused(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "exports").mkdir(parents=True)
    outside.mkdir()

    def swap(method: str, path: str) -> None:
        if path.endswith("/download"):
            swap_for_link(project / "exports", outside)

    with running(Proxy(tenant.base_url, before_reply=swap)) as proxy:
        c = client(proxy)
        with pytest.raises(ArchiveError) as caught:
            fetch(c, started(c), PLACE, project, fixed_now)
    assert str(caught.value) == (
        f"download: {PLACE}: refused: exports now leads outside the manifest's folder "
        "(through a link); nothing was saved"
    )
    assert saved(outside) == []
    assert not (project / PLACE).exists()


def test_a_link_that_stays_inside_the_folder_is_followed(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    (tmp_path / "archive-2026").mkdir()
    (tmp_path / "exports").symlink_to("archive-2026", target_is_directory=True)
    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        fetch(c, started(c), PLACE, tmp_path, fixed_now)
    assert saved(tmp_path / "archive-2026") == ["a.zip"]
    shutil.rmtree(tmp_path / "archive-2026")


# -- what an archive lists, and the one it replaces --------------------------------------------


def started_with(client: Client, params: ExportParams) -> Record:
    job = client.start_export(FINANCE, ACCOUNTING, params)
    done = record("accounting-core", 0)
    return replace(done, request=Request(FINANCE, ACCOUNTING, params), export_id=job.export_id)


def test_a_fetched_archive_s_content_is_recorded(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        done = fetch(c, started(c), PLACE, tmp_path, fixed_now)
    assert done.download is not None
    assert done.download.content == archive.summary(archive.read(tmp_path / PLACE))
    content = done.download.content
    with zipfile.ZipFile(tmp_path / PLACE) as z:
        identities = z.read("identities.csv").decode().splitlines()[1:]
        entitlements = z.read("entitlements.csv").decode().splitlines()[1:]
    assert (content.identities, content.entitlements) == (len(identities), len(entitlements))
    assert content.identities > 0 and content.entitlements > 0
    assert not (tmp_path / "exports/a.previous.zip").exists()  # nothing was replaced


def test_an_archive_rmsync_cannot_read_all_of_is_saved_and_says_so(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    odd = zip_of({"roles.csv": b"identity,entitlement\nid1,ent1\n", "README.txt": b"hello"})
    downloads = Downloads(lambda n, a: (a[0], odd, a[2]))
    with running(Proxy(tenant.base_url, reply=downloads)) as proxy:
        c = client(proxy)
        done = fetch(c, started(c), PLACE, tmp_path, fixed_now)
    assert done.download is not None and done.download.content is not None
    assert done.download.content.identities == 0
    assert done.download.content.unread == (
        "README.txt: not a CSV file",
        "roles.csv: no id column, not read",
        "no identities file (a CSV file with an identity id column)",
        "no entitlements file (a CSV file with an entitlement id column)",
    )


def test_a_new_archive_keeps_the_one_it_replaces_as_previous(
    tenant: Sandbox,
    tmp_path: Path,
    client: Callable[[Proxy], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dest, previous = tmp_path / PLACE, tmp_path / "exports/a.previous.zip"
    checks: list[bool] = []
    real_check = atomic.check_inside

    def watching(path: Path, root: Path) -> None:  # just before each rename
        checks.append(dest.is_file())
        real_check(path, root)

    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        fetch(c, started(c), PLACE, tmp_path, fixed_now)
        first = dest.read_bytes()
        monkeypatch.setattr(atomic, "check_inside", watching)
        fetch(c, started_with(c, ExportParams(50)), PLACE, tmp_path, fixed_now)
        second = dest.read_bytes()
        fetch(c, started_with(c, ExportParams(90)), PLACE, tmp_path, fixed_now)
    assert first != second
    assert previous.read_bytes() == second  # the one replaced last
    assert checks and all(checks)  # the place had its file at every step
    assert saved(tmp_path) == ["exports/a.previous.zip", PLACE]


def test_without_hard_links_the_previous_archive_is_a_copy(
    tenant: Sandbox,
    tmp_path: Path,
    client: Callable[[Proxy], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_links(src: object, dst: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        fetch(c, started(c), PLACE, tmp_path, fixed_now)
        first = (tmp_path / PLACE).read_bytes()
        monkeypatch.setattr(os, "link", no_links)
        fetch(c, started_with(c, ExportParams(50)), PLACE, tmp_path, fixed_now)
    previous = tmp_path / "exports/a.previous.zip"
    assert previous.read_bytes() == first
    assert previous.stat().st_nlink == 1
    assert saved(tmp_path) == ["exports/a.previous.zip", PLACE]


def test_when_the_previous_archive_cannot_be_kept_nothing_moves(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        fetch(c, started(c), PLACE, tmp_path, fixed_now)
        first = (tmp_path / PLACE).read_bytes()
        (tmp_path / "exports/a.previous.zip").mkdir()  # in the way
        with pytest.raises(ArchiveError) as caught:
            fetch(c, started_with(c, ExportParams(50)), PLACE, tmp_path, fixed_now)
    assert str(caught.value) == (
        f"download: {PLACE}: cannot keep the archive there as exports/a.previous.zip: "
        "it is a folder; nothing was saved"
    )
    assert (tmp_path / PLACE).read_bytes() == first
    assert saved(tmp_path) == [PLACE]  # no temporary file is left


def test_a_link_at_the_place_is_replaced_and_not_kept(
    tenant: Sandbox, tmp_path: Path, client: Callable[[Proxy], Client]
) -> None:
    (tmp_path / "outside.zip").write_bytes(b"not mine")
    (tmp_path / "exports").mkdir()
    (tmp_path / PLACE).symlink_to(tmp_path / "outside.zip")
    with running(Proxy(tenant.base_url)) as proxy:
        c = client(proxy)
        fetch(c, started(c), PLACE, tmp_path, fixed_now)
    assert not (tmp_path / PLACE).is_symlink()
    assert not (tmp_path / "exports/a.previous.zip").exists()
    assert (tmp_path / "outside.zip").read_bytes() == b"not mine"
