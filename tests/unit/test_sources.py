"""Release-file sources: local layouts, NLM's HTTP layout served from 127.0.0.1, safe downloads."""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mkailin_assets.ingest.errors import ChecksumMismatchError, SourceError, UnsafeFileNameError
from mkailin_assets.ingest.sources import (
    ReleaseFile,
    check_release_name,
    download,
    fetch_mesh_source,
    fetch_release_file,
    list_release_files,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"


class NlmLikeHandler(SimpleHTTPRequestHandler):
    """Serves a folder like NLM's FTP site, with byte ranges and injectable faults."""

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        local = self.translate_path(self.path)
        if os.path.isdir(local):
            return super().do_GET()
        if not os.path.isfile(local):
            self.send_error(404)
            return
        data = Path(local).read_bytes()
        if self.path in self.server.corrupt:
            data = bytes(255 - b for b in data)
        requested = self.headers.get("Range")
        self.server.requests.append((self.path, requested))
        if self.path in self.server.ignore_range:
            requested = None  # as some mirrors do: the whole file, 200
        start = int(requested.split("=")[1].split("-")[0]) if requested else 0
        if start >= len(data) > 0:
            self.send_response(416)  # Range Not Satisfiable: nothing left to send
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start:]
        self.send_response(206 if requested else 200)
        if requested:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        cut = self.server.cut_once.pop(self.path, None)
        if cut is not None:  # promise the whole body, send part of it, hang up
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def nlm_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site" / "pubmed"
    (root / "baseline").mkdir(parents=True)
    (root / "updatefiles").mkdir()
    for folder, name, source in (
        ("baseline", "pubmed99n0001.xml.gz", "baseline/pubmed99n0001.xml"),
        ("updatefiles", "pubmed99n0002.xml.gz", "updatefiles/pubmed99n0002.xml"),
    ):
        data = gzip.compress((FIXTURES / "pubmed" / source).read_bytes(), mtime=0) * 40
        (root / folder / name).write_bytes(data)
        md5 = hashlib.md5(data).hexdigest()
        (root / folder / f"{name}.md5").write_text(f"MD5({name})= {md5}\n")
    # A hand-made listing with hostile hrefs beside the real ones: only plain names count.
    (root / "baseline" / "index.html").write_text(
        '<html><body><a href="../">Parent</a> <a href="pubmed99n0001.xml.gz">f</a>'
        ' <a href="pubmed99n0001.xml.gz.md5">m</a>'
        ' <a href="../../evil/pubmed99n0009.xml.gz">x</a>'
        ' <a href="/etc/pubmed99n0008.xml.gz">y</a></body></html>'
    )
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: NlmLikeHandler(*a, directory=str(tmp_path / "site"))
    )
    server.requests, server.cut_once, server.corrupt = [], {}, set()
    server.ignore_range = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pubmed/", server
    finally:
        server.shutdown()
        server.server_close()


def test_local_nlm_layout_in_application_order():
    releases = list_release_files(FIXTURES / "pubmed")
    assert [(r.name, r.kind) for r in releases] == [
        ("pubmed99n0001.xml", "baseline"),
        ("pubmed99n0002.xml", "update"),
    ]
    assert releases[0].md5_location.endswith("pubmed99n0001.xml.md5")
    assert releases[1].md5_location is None
    local = fetch_release_file(releases[0], "unused")
    assert local.path == Path(releases[0].location)  # used in place
    assert local.expected_md5 == "a0a75f3da8fbc0cba45a57672f6a4b78"


def test_flat_folder_sorted_by_year_and_number(tmp_path):
    for name in (
        "pubmed99n0010.xml.gz",
        "pubmed98n0002.xml.gz",
        "pubmed99n0002.xml.gz",
        "notes.txt",
    ):
        (tmp_path / name).write_bytes(b"x")
    names = [r.name for r in list_release_files(tmp_path)]
    assert names == ["pubmed98n0002.xml.gz", "pubmed99n0002.xml.gz", "pubmed99n0010.xml.gz"]
    with pytest.raises(SourceError, match="neither a directory nor a release file"):
        list_release_files(tmp_path / "missing")


@pytest.mark.parametrize(
    "name", ["../pubmed99n0001.xml.gz", "/etc/passwd", "a/pubmed99n0001.xml.gz", "..", "x.xml.gz"]
)
def test_unplain_names_are_refused(name, tmp_path):
    with pytest.raises(UnsafeFileNameError):
        check_release_name(name)
    release = ReleaseFile(name, "baseline", "http://127.0.0.1:9/x", None)
    with pytest.raises(UnsafeFileNameError):
        fetch_release_file(release, tmp_path / "downloads")
    assert not (tmp_path / "downloads").exists()


def test_download_refuses_names_that_escape_the_folder(tmp_path):
    with pytest.raises(UnsafeFileNameError):
        download("http://127.0.0.1:9/x", tmp_path / "d", "../escape.gz")
    assert not (tmp_path / "escape.gz").exists()


def test_remote_listing_ignores_hostile_hrefs(nlm_site):
    url, _ = nlm_site
    releases = list_release_files(url)
    assert [(r.name, r.kind) for r in releases] == [
        ("pubmed99n0001.xml.gz", "baseline"),
        ("pubmed99n0002.xml.gz", "update"),
    ]
    assert releases[0].location == url + "baseline/pubmed99n0001.xml.gz"
    assert releases[1].md5_location == url + "updatefiles/pubmed99n0002.xml.gz.md5"


def test_remote_file_is_downloaded_and_verified(nlm_site, tmp_path):
    url, _ = nlm_site
    release = list_release_files(url)[1]
    local = fetch_release_file(release, tmp_path / "dl")
    assert local.path == (tmp_path / "dl" / "pubmed99n0002.xml.gz").resolve()
    assert hashlib.md5(local.path.read_bytes()).hexdigest() == local.expected_md5
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["pubmed99n0002.xml.gz"]


def test_interrupted_download_resumes_by_range(nlm_site, tmp_path):
    url, server = nlm_site
    release = list_release_files(url)[0]
    path = "/pubmed/baseline/pubmed99n0001.xml.gz"
    server.cut_once[path] = 5000
    local = fetch_release_file(release, tmp_path / "dl")
    assert hashlib.md5(local.path.read_bytes()).hexdigest() == local.expected_md5
    assert [r for p, r in server.requests if p == path] == [None, "bytes=5000-"]


def test_a_complete_part_file_is_finished_by_a_416_answer(nlm_site, tmp_path):
    """A crash between the last byte and the rename leaves a whole .part: the resume asks for
    the bytes after its end, the server answers 416, and the verified file is kept."""
    url, server = nlm_site
    release = list_release_files(url)[0]
    path = "/pubmed/baseline/pubmed99n0001.xml.gz"
    whole = (tmp_path / "site" / "pubmed" / "baseline" / "pubmed99n0001.xml.gz").read_bytes()
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "pubmed99n0001.xml.gz.part").write_bytes(whole)
    local = fetch_release_file(release, tmp_path / "dl")
    assert local.path.read_bytes() == whole
    assert [r for p, r in server.requests if p == path] == [f"bytes={len(whole)}-"]
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["pubmed99n0001.xml.gz"]


def test_a_server_that_ignores_range_restarts_the_file_instead_of_appending(nlm_site, tmp_path):
    url, server = nlm_site
    release = list_release_files(url)[0]
    path = "/pubmed/baseline/pubmed99n0001.xml.gz"
    server.cut_once[path] = 5000
    server.ignore_range.add(path)
    local = fetch_release_file(release, tmp_path / "dl")
    assert hashlib.md5(local.path.read_bytes()).hexdigest() == local.expected_md5
    assert [r for p, r in server.requests if p == path] == [None, "bytes=5000-"]


def test_md5_mismatch_retries_once_then_fails(nlm_site, tmp_path):
    url, server = nlm_site
    release = list_release_files(url)[0]
    path = "/pubmed/baseline/pubmed99n0001.xml.gz"
    server.corrupt.add(path)
    with pytest.raises(ChecksumMismatchError, match="pubmed99n0001.xml.gz: md5"):
        fetch_release_file(release, tmp_path / "dl")
    assert [r for p, r in server.requests if p == path] == [None, None]  # twice from scratch
    assert list((tmp_path / "dl").iterdir()) == []


def test_mesh_source_local_or_downloaded(nlm_site, tmp_path):
    url, _ = nlm_site
    mesh = FIXTURES / "mesh" / "desc2025_fixture.xml"
    assert fetch_mesh_source(mesh, tmp_path / "dl") == mesh
    downloaded = fetch_mesh_source(url + "updatefiles/pubmed99n0002.xml.gz", tmp_path / "dl")
    assert downloaded.parent == (tmp_path / "dl").resolve() and downloaded.stat().st_size > 0
    with pytest.raises(SourceError, match="does not exist"):
        fetch_mesh_source(tmp_path / "desc2099.xml", tmp_path / "dl")
