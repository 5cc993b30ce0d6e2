"""Fetching one file over the network so that it survives the internet as it is.

Three kinds of source, each with the tool that handles its quirks:
- plain HTTP(S) (GitHub releases and the like): `http_download`, written here because it is small. It resumes an
  interrupted transfer with an HTTP Range request, retries with exponential backoff, shows a tqdm bar (bytes,
  rate, ETA), refuses an HTML page where a binary file is expected and removes its partial file when it gives up;
- Google Drive: `gdown`, which answers Drive's "can't scan this file for viruses" confirmation page;
- the Hugging Face hub: `huggingface_hub.hf_hub_download`, which resumes and shows progress itself and keeps the
  file in the shared hub cache (the same place a Space build preloads into).

Every failure is a `DownloadFailed` (an InputError) with one line; the caller tries the next source.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tryon.errors import InputError
from tryon.weight_checks import SNIFF_BYTES, html_kind

CHUNK = 1 << 20
DRIVE_URL = "https://drive.google.com/uc?id={id}"
USER_AGENT = "tryon-workbench"


class DownloadFailed(InputError):
    """One source could not deliver the file; the message is one line."""


class _Retry(Exception):
    """A transient failure (connection cut, timeout, 5xx): try again from where the file stands."""


def partial(dest: Path) -> Path:
    """Where a download in progress lives: never the final name."""
    return dest.with_name(dest.name + ".part")


def http_download(url: str, dest: Path, *, retries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
                  label: str | None = None) -> None:
    """Download `url` to `dest`, resuming whatever `dest` already holds (a cut connection, or a run stopped with
    Ctrl-C, continues with `Range: bytes=<size>-`). `dest` is the caller's temporary name. On a failure that
    retrying cannot fix, or when the retries are spent, `dest` is removed and DownloadFailed raised."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        try:
            _transfer(url, dest, timeout, label or dest.name)
            return
        except _Retry as exc:
            attempt += 1
            if attempt > retries:
                dest.unlink(missing_ok=True)
                raise DownloadFailed(f"{exc} (gave up after {retries} retries)") from None
            time.sleep(backoff * 2 ** (attempt - 1))
        except Exception:
            dest.unlink(missing_ok=True)
            raise


def _open(url: str, have: int, timeout: float) -> http.client.HTTPResponse | None:
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the file was already complete
            return None
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadFailed(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retry(f"cannot connect ({reason})") from None


def _transfer(url: str, dest: Path, timeout: float, label: str) -> None:
    from tqdm import tqdm

    have = dest.stat().st_size if dest.is_file() else 0
    response = _open(url, have, timeout)
    if response is None:
        return
    with response:
        resumed = response.status == 206 and _range_start(response) == have
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        with open(dest, "r+b" if resumed else "wb") as fh, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False
        ) as bar:
            fh.seek(start)
            fh.truncate()
            first = True
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (TimeoutError, http.client.IncompleteRead, OSError) as exc:
                    raise _Retry(f"connection lost at {fh.tell()} bytes ({type(exc).__name__})") from None
                if first and not resumed:
                    _refuse_html(response.headers.get("Content-Type", ""), chunk)
                first = False
                if not chunk:
                    break
                fh.write(chunk)
                bar.update(len(chunk))
            got = fh.tell()
    if total is not None and got < total:
        raise _Retry(f"connection closed at {got} of {total} bytes")


def _range_start(response: http.client.HTTPResponse) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _refuse_html(content_type: str, head: bytes) -> None:
    """A web page where a weight file was expected (a login wall, a confirmation or error page) is refused."""
    html = html_kind(head[:SNIFF_BYTES])
    if html or content_type.lower().startswith("text/html"):
        raise DownloadFailed(html or "an HTML page, not the file")


def drive_download(file_id: str, dest: Path, *, timeout: float = 60.0, retries: int = 3) -> None:
    """A Google Drive file through gdown (it answers the virus-scan confirmation page and resumes its own
    partial file). gdown's partial files are removed when it fails."""
    import gdown

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        gdown.download(url=DRIVE_URL.format(id=file_id), output=str(dest), quiet=False, use_cookies=False,
                       resume=True, retries=retries, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any gdown failure becomes one line; the next source is tried
        for leftover in dest.parent.glob(f"{dest.name}*.part"):
            leftover.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
        detail = " ".join(str(exc).split())
        raise DownloadFailed(f"Google Drive: {type(exc).__name__}: {detail[:300]}") from None
    if not dest.is_file():
        raise DownloadFailed("Google Drive: gdown returned without a file")


def hub_download(repo_id: str, path: str, revision: str) -> Path:
    """A file of a Hugging Face model repo, into the hub cache; the returned path is under
    `snapshots/<commit>/`, which names the commit it came from."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, path, revision=revision))
    except Exception as exc:  # noqa: BLE001 - a gone repo, a 404, no network: one line, next source
        detail = " ".join(str(exc).split())
        raise DownloadFailed(f"{type(exc).__name__}: {detail[:300]}") from None


def remove_partial(dest: Path) -> None:
    """Drop a temporary download (used when the file arrived but failed its structure check)."""
    for leftover in (dest, *dest.parent.glob(f"{dest.name}*.part")):
        if leftover.is_file() or leftover.is_symlink():
            os.unlink(leftover)


def download(url: str, dest: Path, *, timeout: float = 60.0, retries: int = 4) -> None:
    """The complete file at `dest`, or DownloadFailed; the transfer runs under `partial(dest)`."""
    part = partial(dest)
    http_download(url, part, retries=retries, timeout=timeout, label=dest.name)
    os.replace(part, dest)
