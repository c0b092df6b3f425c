"""Where release files come from: a local directory or NLM's HTTP(S) layout, and safe downloads.

A PubMed source is a directory (flat, or NLM's baseline/ + updatefiles/ subfolders), a single
release file, or an http(s) URL laid out like https://ftp.ncbi.nlm.nih.gov/pubmed/ (HTML listings
of baseline/ and updatefiles/, each release file with its `.md5` beside it). Downloads go to a
`.part` file, resume by HTTP Range after an interruption, and are md5-verified before they are
renamed into place. File names from listings are accepted only if they are plain release names,
so nothing is ever written outside the download folder.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx

from mkailin_assets.ingest.errors import ChecksumMismatchError, SourceError, UnsafeFileNameError
from mkailin_assets.ingest.pubmed_loader import read_md5_file

RELEASE_NAME = re.compile(r"^pubmed(?P<year>\d{2})n(?P<number>\d{4})\.xml(?:\.gz)?$")
# MeSH downloads: a plain file name, no separators, no leading dot.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_HREF = re.compile(r"""href\s*=\s*["']([^"'#?]+)["']""", re.IGNORECASE)
_KIND_FOLDERS = (("baseline", "baseline"), ("update", "updatefiles"))
_CHUNK = 1 << 20
_ATTEMPTS = 5


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    kind: str  # baseline | update
    location: str  # local path or URL
    md5_location: str | None


@dataclass(frozen=True)
class LocalReleaseFile:
    path: Path
    expected_md5: str | None


def is_url(source: str) -> bool:
    return urlparse(str(source)).scheme in ("http", "https")


def check_release_name(name: str) -> str:
    """Only plain NLM release names (pubmedYYnNNNN.xml[.gz]) pass: no paths, no traversal."""
    if not RELEASE_NAME.match(name or ""):
        raise UnsafeFileNameError(f"not a plain PubMed release file name: {name!r}")
    return name


def check_safe_name(name: str) -> str:
    if not SAFE_NAME.match(name or "") or ".." in name:
        raise UnsafeFileNameError(f"unsafe file name: {name!r}")
    return name


def release_sort_key(release: ReleaseFile) -> tuple[int, int, int]:
    """NLM's application order: by release year; within a year the baseline files, then the
    updates, each by file number. A new yearly baseline (pubmed27n…) thus follows the previous
    year's update files instead of jumping ahead of them."""
    match = RELEASE_NAME.match(release.name)
    assert match is not None
    return (int(match["year"]), 0 if release.kind == "baseline" else 1, int(match["number"]))


def list_release_files(source: str | Path) -> list[ReleaseFile]:
    """All release files of a source, in the order they must be applied."""
    text = str(source)
    releases = _list_remote(text) if is_url(text) else _list_local(Path(text))
    return sorted(releases, key=release_sort_key)


def _list_local(root: Path) -> list[ReleaseFile]:
    if root.is_file():
        kind = "update" if root.parent.name == "updatefiles" else "baseline"
        return [_local_release(check_release_name(root.name), kind, root)]
    if not root.is_dir():
        raise SourceError(f"PubMed source {root} is neither a directory nor a release file")
    releases = []
    subfolders = [
        (kind, root / folder) for kind, folder in _KIND_FOLDERS if (root / folder).is_dir()
    ]
    # A flat folder holds baseline files (updates, if any, sort after them by number).
    for kind, folder in subfolders or [("baseline", root)]:
        for path in folder.iterdir():
            if path.is_file() and RELEASE_NAME.match(path.name):
                releases.append(_local_release(path.name, kind, path))
    return releases


def _local_release(name: str, kind: str, path: Path) -> ReleaseFile:
    md5 = Path(f"{path}.md5")
    return ReleaseFile(name, kind, str(path), str(md5) if md5.is_file() else None)


def _list_remote(url: str) -> list[ReleaseFile]:
    base = url if url.endswith("/") else url + "/"
    releases = []
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        for kind, folder in _KIND_FOLDERS:
            listing_url = urljoin(base, folder + "/")
            response = client.get(listing_url)
            if response.status_code == 404:
                continue
            if response.status_code != 200:
                raise SourceError(f"{listing_url}: HTTP {response.status_code}")
            names = set(_HREF.findall(response.text))
            for name in names:
                if RELEASE_NAME.match(name):  # anything else (paths, '..') is ignored
                    md5 = urljoin(listing_url, name + ".md5") if name + ".md5" in names else None
                    releases.append(ReleaseFile(name, kind, urljoin(listing_url, name), md5))
    if not releases:
        raise SourceError(f"{url}: no release files in baseline/ or updatefiles/ listings")
    return releases


def fetch_release_file(release: ReleaseFile, download_dir: str | Path) -> LocalReleaseFile:
    """Local files are used in place; remote ones are downloaded (resumed, md5-verified)."""
    name = check_release_name(release.name)
    if not is_url(release.location):
        md5 = read_md5_file(release.md5_location) if release.md5_location else None
        return LocalReleaseFile(Path(release.location), md5)
    expected = _fetch_md5(release.md5_location) if release.md5_location else None
    path = download(release.location, download_dir, name, expected_md5=expected)
    return LocalReleaseFile(path, expected)


def fetch_mesh_source(source: str | Path, download_dir: str | Path) -> Path:
    """A local MeSH file is used in place; a URL is downloaded (resumed) into download_dir."""
    text = str(source)
    if not is_url(text):
        path = Path(text)
        if not path.is_file():
            raise SourceError(f"MeSH source {path} does not exist")
        return path
    name = check_safe_name(Path(urlparse(text).path).name)
    return download(text, download_dir, name)


def _fetch_md5(url: str) -> str:
    response = httpx.get(url, follow_redirects=True, timeout=60)
    if response.status_code != 200:
        raise SourceError(f"{url}: HTTP {response.status_code}")
    text = response.text.strip()
    match = re.search(r"=\s*([0-9a-fA-F]{32})\s*$", text) or re.match(r"([0-9a-fA-F]{32})", text)
    if not match:
        raise SourceError(f"{url}: not an md5 file")
    return match.group(1).lower()


def _target(download_dir: str | Path, name: str) -> Path:
    folder = Path(download_dir).resolve()
    target = (folder / check_safe_name(name)).resolve()
    if target.parent != folder:
        raise UnsafeFileNameError(f"{name!r} would be written outside {folder}")
    return target


def download(
    url: str, download_dir: str | Path, name: str, *, expected_md5: str | None = None
) -> Path:
    """Download url to download_dir/name via name.part, resuming by Range after interruptions.

    With expected_md5: verify; on mismatch start once more from scratch, then raise."""
    target = _target(download_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and (expected_md5 is None or _md5(target) == expected_md5):
        return target
    partial = target.with_name(target.name + ".part")
    for attempt in (1, 2):
        _download_resuming(url, partial)
        if expected_md5 is None or _md5(partial) == expected_md5.lower():
            partial.replace(target)
            return target
        partial.unlink(missing_ok=True)
        if attempt == 2:
            raise ChecksumMismatchError(
                f"{name}: md5 of the download from {url} does not match {expected_md5}"
                " (tried twice from scratch)"
            )
    raise AssertionError("unreachable")


def _download_resuming(url: str, partial: Path) -> None:
    last_error: Exception | None = None
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60, connect=30)) as client:
        for attempt in range(_ATTEMPTS):
            have = partial.stat().st_size if partial.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code == 416:  # we already have every byte
                        return
                    if response.status_code not in (200, 206):
                        raise SourceError(f"{url}: HTTP {response.status_code}")
                    # 200 to a Range request: the server ignored it, so start over.
                    mode = "ab" if response.status_code == 206 and have else "wb"
                    with open(partial, mode) as out:
                        for block in response.iter_bytes():  # write as it arrives
                            out.write(block)
                return
            except (httpx.TransportError, httpx.RemoteProtocolError) as error:
                last_error = error
                time.sleep(min(0.2 * 2**attempt, 5))
    raise SourceError(f"{url}: download failed after {_ATTEMPTS} attempts: {last_error}")


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        while block := stream.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()
