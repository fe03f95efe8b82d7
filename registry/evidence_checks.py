"""Evidence files are checked by their content, not only their first bytes: a file that
passes is the type its name says, whole, and not something a browser would run.

Each check reads the upload (a Django UploadedFile) from the start in chunks and raises
ValidationError({"file": ...}) naming the file and what is wrong.
"""

from __future__ import annotations

import codecs
import zipfile

from django.core.exceptions import ValidationError

# A spreadsheet of evidence unpacks to at most this: above it is a zip bomb, not a register.
XLSX_MAX_UNPACKED_BYTES = 100 * 1024 * 1024
XLSX_MAX_MEMBERS = 10_000
# What makes a "PDF" an HTML page too (sniffed by browsers that ignore the type).
HTML_MARKERS = (b"<html", b"<script", b"<!doctype html")
CHUNK = 64 * 1024


def _refuse(name: str, why: str):
    raise ValidationError({"file": f"{name} {why}"})


def _head(upload, size: int) -> bytes:
    upload.seek(0)
    return upload.read(size)


def _tail(upload, size: int) -> bytes:
    upload.seek(max(upload.size - size, 0))
    return upload.read(size)


def check_pdf(upload, name: str) -> None:
    if any(marker in _head(upload, 1024).lower() for marker in HTML_MARKERS):
        _refuse(name, "holds HTML or script; a PDF must not.")
    if b"%%EOF" not in _tail(upload, 1024):
        _refuse(name, "is not a whole PDF (no %%EOF at its end).")


def check_png(upload, name: str) -> None:
    # The first chunk is IHDR, the last IEND (with its fixed CRC).
    if _head(upload, 16)[8:16] != b"\x00\x00\x00\x0dIHDR":
        _refuse(name, "is not a real .png file (no IHDR header).")
    if _tail(upload, 12) != b"\x00\x00\x00\x00IEND\xaeB`\x82":
        _refuse(name, "is not a whole .png file (no IEND at its end).")


def check_jpeg(upload, name: str) -> None:
    # Some cameras write data after the end-of-image marker: look at the last KB.
    if b"\xff\xd9" not in _tail(upload, 1024):
        _refuse(name, "is not a whole JPEG file (no end-of-image marker).")


def check_xlsx(upload, name: str) -> None:
    upload.seek(0)
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError):
        _refuse(name, "is not a valid .xlsx file (not a readable zip).")
    with archive:
        members = archive.infolist()
        if len(members) > XLSX_MAX_MEMBERS:
            _refuse(name, f"has more than {XLSX_MAX_MEMBERS} parts.")
        if "[Content_Types].xml" not in {m.filename for m in members}:
            _refuse(name, "is not a valid .xlsx file (no [Content_Types].xml).")
        # Sizes in the directory can lie: count the bytes as they unpack.
        unpacked = 0
        for member in members:
            try:
                with archive.open(member) as part:
                    while chunk := part.read(CHUNK):
                        unpacked += len(chunk)
                        if unpacked > XLSX_MAX_UNPACKED_BYTES:
                            _refuse(
                                name,
                                f"unpacks to more than {XLSX_MAX_UNPACKED_BYTES} bytes "
                                "(a zip bomb?).",
                            )
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
                _refuse(name, f"is not a valid .xlsx file (part {member.filename} is damaged).")
    upload.seek(0)


def check_text(upload, name: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    upload.seek(0)
    for chunk in upload.chunks(CHUNK):
        if b"\x00" in chunk:
            _refuse(name, "holds NUL bytes; it is not a text file.")
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            _refuse(name, "is not UTF-8 text.")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        _refuse(name, "is not UTF-8 text (it ends inside a character).")


CHECKS = {
    ".pdf": check_pdf,
    ".png": check_png,
    ".jpg": check_jpeg,
    ".jpeg": check_jpeg,
    ".xlsx": check_xlsx,
    ".csv": check_text,
    ".txt": check_text,
}


def check_content(upload, name: str, suffix: str) -> None:
    """Refuse an upload whose content is not the whole, plain file its suffix names."""
    try:
        CHECKS[suffix](upload, name)
    finally:
        upload.seek(0)
