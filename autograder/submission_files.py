"""Read a submission as data: regular files only, never through a link, never more than a limit.

A submission folder is written by a student. A symbolic link in it to the
instructor's source notebook, or to a classmate's, must not be graded as the
student's own work; a named pipe must not hang the grader; a sparse file of
gigabytes must not make it allocate them. So everything here looks with
``lstat`` and opens with ``O_NOFOLLOW``, one name at a time from a descriptor
of the folder above (``dir_fd``), and checks with ``fstat`` what it opened (a
file swapped for something else after the ``lstat`` is caught there).

What the student chose (file names, the student id, the text of
``timestamp.txt``) is data too: `safe_label` keeps it on one line in reports.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

NOTEBOOK_LIMIT = 50_000_000    # bytes; a notebook is sanitized without its outputs, so this is generous
SIDE_FILE_LIMIT = 1_000_000    # bytes, for timestamp.txt and submission_secret.txt
TIMESTAMP_FILE = "timestamp.txt"
SECRET_FILE = "submission_secret.txt"
_SECRET = re.compile(r"[0-9a-f]{16,256}")  # nbgrader: secrets.token_hex(64)

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC   # O_NONBLOCK: a FIFO never blocks
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20
_NOT_A_FOLDER = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # gone, a file, or a link


class Refused(Exception):
    """A submission file or folder the grader will not read. ``str()`` names it and says why."""

    def __init__(self, name: str, why: str):
        super().__init__(f"{name} {why}")
        self.name, self.why = name, why


def kind(mode: int) -> str:
    """What an ``st_mode`` is, in words for the grading table."""
    for test, words in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device")):
        if test(mode):
            return words
    return "a special file"


def _not_a_file(mode: int) -> str:
    return f"is {kind(mode)}: refused (submit the file itself)"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _open_regular(path: str | Path, dir_fd: int | None) -> tuple[int, os.stat_result]:
    """Open a regular file without following a link; the caller closes the descriptor."""
    label = os.path.basename(path)
    mode = os.lstat(path, dir_fd=dir_fd).st_mode  # FileNotFoundError: for the caller to decide
    if not stat.S_ISREG(mode):
        raise Refused(label, _not_a_file(mode))  # never opened: opening a device can act on it
    try:
        fd = os.open(path, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a link since the lstat
            raise Refused(label, _not_a_file(stat.S_IFLNK)) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO, a device... since the lstat
        os.close(fd)
        raise Refused(label, _not_a_file(st.st_mode))
    return fd, st


def read_regular(path: str | Path, limit: int, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; `Refused` for anything else.

    The size is checked before reading, and at most ``limit + 1`` bytes are
    ever read, so a file that grows meanwhile (or lies about its size) costs
    no more memory than the limit.
    """
    label = os.path.basename(path)
    fd, st = _open_regular(path, dir_fd)
    try:
        if st.st_size > limit:
            raise Refused(label, f"is {_size(st.st_size)}, over the {_size(limit)} limit: "
                                 "refused (submit a smaller file; a notebook shrinks when its outputs are cleared)")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise Refused(label, f"grew past the {_size(limit)} limit while it was read: refused")
        return b"".join(chunks)
    finally:
        os.close(fd)


def sha256_regular(path: str | Path, dir_fd: int | None = None) -> bytes:
    """SHA-256 of a regular file, read in chunks (a huge file costs time, never memory); `Refused` otherwise."""
    fd, _ = _open_regular(path, dir_fd)
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
        return digest.digest()
    finally:
        os.close(fd)


def open_folder(folder: Path, root: Path) -> int:
    """A descriptor of ``folder``, reached from ``root`` one name at a time without following a link.

    ``root`` is the instructor's (it may be reached through links); every
    name below it is the student's. `Refused` names the first one that is not
    a real folder. The caller closes the descriptor.
    """
    parts = folder.relative_to(root).parts
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, part in enumerate(parts):
            try:
                below = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                mode = os.lstat(part, dir_fd=fd).st_mode
                why = ("is a symbolic link: refused (submit the folder itself)" if stat.S_ISLNK(mode)
                       else f"is {kind(mode)}, not a folder: refused")
                raise Refused("/".join(parts[:depth + 1]), why) from None
            os.close(fd)
            fd = below
        return fd
    except BaseException:
        os.close(fd)
        raise


def looks_like_submission(folder: Path) -> bool:
    """Whether ``<dir>/<student>/<assignment>`` is to be graded, judged without following any link.

    A link in place of the student's folder or of the assignment folder counts:
    grading refuses it with a reason, rather than leaving the student out unseen.
    """
    student = _lstat_mode(folder.parent)
    if not stat.S_ISDIR(student):
        return stat.S_ISLNK(student)
    assignment = _lstat_mode(folder)
    return stat.S_ISDIR(assignment) or stat.S_ISLNK(assignment)


def _lstat_mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return 0


def list_notebooks(folder: Path, root: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """The ``*.ipynb`` of a submission: (name -> bytes, name -> why it was refused).

    Names are as ``glob("*.ipynb")`` finds them (hidden ones skipped); the
    reasons read after the name ("is a symbolic link: refused ..."). Raises
    `Refused` when ``folder`` itself, or a folder between it and ``root``, is
    not a real folder.
    """
    fd = open_folder(folder, root)
    try:
        files, refused = {}, {}
        for name in sorted(os.listdir(fd)):
            if name.startswith(".") or not name.endswith(".ipynb"):
                continue
            try:
                files[name] = read_regular(name, NOTEBOOK_LIMIT, dir_fd=fd)
            except Refused as exc:
                refused[name] = exc.why
            except FileNotFoundError:  # deleted while we looked: as if never there
                pass
        return files, refused
    finally:
        os.close(fd)


def walk(folder: Path) -> Iterator[tuple[str, os.stat_result, int]]:
    """(path relative to ``folder``, its lstat, a descriptor of the folder holding it) for every entry.

    Depth first, in name order (the order of ``sorted(folder.rglob("*"))``);
    links are reported, never followed. Nothing when ``folder`` is not a real folder.
    """
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in _NOT_A_FOLDER:
            return
        raise
    try:
        yield from _walk(fd, "")
    finally:
        os.close(fd)


def _walk(fd: int, prefix: str) -> Iterator[tuple[str, os.stat_result, int]]:
    for name in sorted(os.listdir(fd)):
        try:
            st = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        yield prefix + name, st, fd
        if stat.S_ISDIR(st.st_mode):
            try:
                below = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in _NOT_A_FOLDER:  # swapped for something else since the lstat
                    continue
                raise
            try:
                yield from _walk(below, prefix + name + "/")
            finally:
                os.close(below)


# nbgrader's parse_utc hands a third word to dateutil's gettz, which opens it as a path when it
# looks like one: allow only a UTC offset or a zone name ("UTC", "Europe/Paris").
_ZONE = re.compile(r"[+-]?\d{1,4}|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z][A-Za-z0-9_+-]*)*")


def parse_timestamp(text: str) -> str | None:
    """``text`` stripped when nbgrader can read it as a submission time, else None."""
    from nbgrader.utils import parse_utc

    text = text.strip()
    words = text.split(" ")
    if not text or len(text) > 100 or (len(words) == 3 and not _ZONE.fullmatch(words[2])):
        return None
    try:
        parse_utc(text)
    except (ValueError, OverflowError):
        return None
    return text


def _read_side_file(folder: Path, root: Path, name: str) -> tuple[bytes | None, str]:
    """A small regular file of the submission: (its bytes, or None; a note when refused).

    No file, no note. A folder that cannot be opened gives no note either: its
    refusal is already reported with the notebooks.
    """
    try:
        fd = open_folder(folder, root)
    except (Refused, FileNotFoundError):
        return None, ""
    try:
        return read_regular(name, SIDE_FILE_LIMIT, dir_fd=fd), ""
    except FileNotFoundError:
        return None, ""
    except Refused as exc:
        return None, str(exc)
    finally:
        os.close(fd)


def read_timestamp(folder: Path, root: Path) -> tuple[str | None, str]:
    """The submission time in ``timestamp.txt``: (the text, or None; a note for the table when ignored)."""
    data, why = _read_side_file(folder, root, TIMESTAMP_FILE)
    if data is None:
        return None, why and f"{why}; submission time unknown"
    text = data.decode("utf-8", "replace")
    timestamp = parse_timestamp(text)
    if timestamp is None:
        return None, f"{TIMESTAMP_FILE} does not hold a date ({text.strip()[:40]!r}): ignored"
    return timestamp, ""


def read_submission_secret(folder: Path, root: Path) -> tuple[str | None, str]:
    """nbgrader's ``submission_secret.txt`` (written by ``nbgrader submit``): (the text, or None; a note).

    The exchange names a student's feedback by a hash of it, so it is kept
    byte for byte; anything but the hex digits nbgrader writes is ignored.
    """
    data, why = _read_side_file(folder, root, SECRET_FILE)
    if data is None:
        return None, why and f"{why}; feedback cannot be released through the exchange"
    text = data.decode("ascii", "replace")
    if not _SECRET.fullmatch(text):
        return None, f"{SECRET_FILE} is not one nbgrader wrote: ignored (feedback cannot be released through the exchange)"
    return text, ""


def safe_label(text: str) -> str:
    r"""``text`` on one visible line: line breaks, control and invisible characters as Python escapes.

    A newline becomes the two characters ``\n``, so a student id or file name
    cannot start a row of its own in a report; nor can it rewrite the terminal
    (``\x1b``) or reorder the line (``\u202e``). Letters of any language stay
    as they are; a backslash is doubled, so two different labels never look alike.
    """
    return "".join(ch if ch.isprintable() and ch != "\\" else repr(ch)[1:-1] for ch in text)


def csv_cell(text: str) -> str:
    """A text cell for a CSV export: one line (`safe_label`), never read as a formula.

    OWASP's rule against formula injection: a cell starting with ``= + - @``
    gets a leading ``'``, which spreadsheets take as "this is text" (the tab,
    CR and NUL OWASP also names are already escaped by `safe_label`). The csv
    module quotes commas and quotes, so a cell cannot start mid-field.
    """
    text = safe_label(text)
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text
