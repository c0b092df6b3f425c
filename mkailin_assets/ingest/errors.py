"""Errors raised by the ingestion layer: each names the input (and the position where known)."""

from __future__ import annotations


class IngestError(Exception):
    """Base class: something about an input file or source is wrong."""


class FileFormatError(IngestError):
    """An input file is unreadable or not what it claims; names the file and, where known, the line."""

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.file = file
        self.reason = reason
        self.line = line
        where = f" at line {line}" if line else ""
        super().__init__(f"{file}{where}: {reason}")

    def __reduce__(self):  # picklable across worker processes despite the custom signature
        return (type(self), (self.file, self.reason, self.line))


class PubMedFormatError(FileFormatError):
    """A PubMed release file is unreadable: truncated, malformed, empty or not PubMed XML."""


class MeshFormatError(FileFormatError):
    """A MeSH source is unreadable or is not a MeSH descriptor XML file."""


class MeshYearMismatchError(IngestError):
    """The MeSH file's year is not the one the caller expected."""


class ChecksumMismatchError(IngestError):
    """A file's md5 differs from the one NLM published beside it."""


class UnsafeFileNameError(IngestError, ValueError):
    """A file name that could escape the download folder (separators, '..', absolute paths)."""


class SourceError(IngestError):
    """A PubMed or MeSH source (directory or URL) cannot be listed or fetched."""
