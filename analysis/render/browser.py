"""Open a rendered report page in headless Chromium and say what a reader would see.

``check_report(html_path)`` loads the file the way a reviewer's browser does (Debian
``chromium --headless --dump-dom``, network disabled), then reads the DOM that Chromium built:
section headings, table and figure captions, and every image, each decoded from its data: URI
(a broken or external image is reported, not hidden). ``screenshot`` writes a PNG of the page.
Used by tests/test_report_browser.py on an example page and, later, on the real report.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import lxml.html

from analysis.render.html import external_references

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
                  # no name resolves: anything that tried the network would fail visibly
                  "--host-resolver-rules=MAP * ~NOTFOUND")
CHROMIUM_TIMEOUT_S = 120
DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[^,;]*)*?);base64,(?P<data>.*)$", re.DOTALL)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BrowserError(RuntimeError):
    pass


def chromium_executable() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise BrowserError("chromium not found (Debian package chromium)")
    return exe


def run_chromium(url: str, *extra: str, window: str = "1280,1600") -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="sap-chromium-") as profile:
        cmd = [chromium_executable(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--window-size={window}", *extra, url]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"chromium did not finish within {CHROMIUM_TIMEOUT_S} s: {url}") from None
    if proc.returncode != 0:
        raise BrowserError(f"chromium failed (exit {proc.returncode}) on {url}:\n{proc.stderr[-3000:]}")
    return proc


def dump_dom(html_path: Path) -> str:
    """The page's DOM after Chromium loaded it (serialized HTML)."""
    proc = run_chromium(Path(html_path).resolve().as_uri(), "--dump-dom")
    if "<html" not in proc.stdout.lower():
        raise BrowserError(f"chromium returned no DOM for {html_path}:\n{proc.stderr[-3000:]}")
    return proc.stdout


def screenshot(html_path: Path, png_path: Path, window: str = "1280,1600") -> Path:
    """A PNG of the top of the page as Chromium draws it."""
    png_path = Path(png_path).resolve()
    run_chromium(Path(html_path).resolve().as_uri(), f"--screenshot={png_path}", window=window)
    if not png_path.is_file() or png_path.read_bytes()[:8] != PNG_SIGNATURE:
        raise BrowserError(f"chromium wrote no screenshot {png_path}")
    return png_path


def image_size(mime: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels read from the image header, or None if it is not a valid one."""
    if mime == "image/png":
        if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
            return None
        return struct.unpack(">II", data[16:24])
    if mime == "image/jpeg":
        return (0, 0) if data[:3] == b"\xff\xd8\xff" else None
    if mime == "image/svg+xml":
        head = data[:2000].decode("utf-8", "replace")
        return (0, 0) if "<svg" in head else None
    return None


def describe_image(src: str) -> dict:
    """What an <img src> holds: mime type, decoded size, pixel size, and whether it is a
    non-empty data: URI whose bytes are a valid image of that type."""
    info = {"src_prefix": src[:40], "mime": None, "bytes": 0, "size": None, "ok": False, "problem": None}
    m = DATA_URI.match(src or "")
    if not m:
        info["problem"] = "not a base64 data: URI (the image would have to be fetched)"
        return info
    info["mime"] = m.group("mime")
    try:
        data = base64.b64decode(m.group("data"), validate=True)
    except (binascii.Error, ValueError) as exc:
        info["problem"] = f"base64 does not decode: {exc}"
        return info
    info["bytes"] = len(data)
    size = image_size(info["mime"], data) if data else None
    if not data:
        info["problem"] = "empty image"
    elif size is None:
        info["problem"] = f"bytes are not a valid {info['mime']}"
    else:
        info["size"], info["ok"] = size, True
    return info


def text_of(el) -> str:
    return " ".join(el.text_content().replace("¶", " ").split())


def read_dom(dom: str) -> dict:
    """The reader-visible structure of a page's DOM (see check_report)."""
    doc = lxml.html.document_fromstring(dom)
    for br in doc.iter("br"):  # a line break separates words, as on screen
        br.tail = "\n" + (br.tail or "")
    main = doc.find(".//main")
    scope = main if main is not None else doc
    tables, figures = [], []
    for caption in scope.iter("caption", "figcaption"):  # document order
        figure = next(caption.iterancestors("figure"), None)
        kind = (figure.get("class") or "") if figure is not None else ""
        if caption.tag == "caption" or "report-tbl" in kind:
            tables.append(text_of(caption))
        else:
            figures.append(text_of(caption))
    return {
        "title": text_of(doc.find(".//title")) if doc.find(".//title") is not None else "",
        "headings": [(int(h.tag[1]), text_of(h)) for h in scope.iter("h1", "h2", "h3", "h4")],
        "table_captions": tables,
        "figure_captions": figures,
        "images": [dict(describe_image(img.get("src") or ""), alt=img.get("alt") or "")
                   for img in scope.iter("img")],
        "toc": [text_of(a) for a in doc.xpath("//nav[@id='TOC']//a")],
        "nav": [(a.get("href"), text_of(a)) for a in doc.xpath("//nav[contains(@class,'report-nav')]//a")],
        "external_requests": external_references(dom),
        "text": text_of(scope),
    }


def check_report(html_path: Path, screenshot_path: Path | None = None) -> dict:
    """Open ``html_path`` in headless Chromium and return what a reader sees:

    ``title``, ``headings`` [(level, text)], ``table_captions``, ``figure_captions``,
    ``images`` [{mime, bytes, size (w, h), ok, problem, alt}], ``toc`` (table-of-contents link
    texts), ``nav`` [(href, text)], ``external_requests`` (anything the page would fetch from
    the network), ``text`` (all visible text of the main column), ``broken_images`` (those not
    ok) and, when ``screenshot_path`` is given, ``screenshot`` (the PNG written).
    """
    html_path = Path(html_path)
    if not html_path.is_file():
        raise BrowserError(f"no such page: {html_path}")
    found = read_dom(dump_dom(html_path))
    found["broken_images"] = [img for img in found["images"] if not img["ok"]]
    if screenshot_path is not None:
        found["screenshot"] = screenshot(html_path, screenshot_path)
    return found


def page_problems(seen: dict) -> list[str]:
    """What is wrong with a page as check_report saw it: no title or headings, a broken image,
    a figure without caption, anything loaded from outside the file."""
    problems = []
    if not seen["title"]:
        problems.append("no <title>")
    if not seen["headings"]:
        problems.append("no headings")
    problems += [f"broken image: {img['problem']} ({img['src_prefix']}...)" for img in seen["broken_images"]]
    problems += [f"loads from outside the file: {ref}" for ref in seen["external_requests"]]
    problems += [f"empty caption: {c!r}" for c in seen["table_captions"] + seen["figure_captions"] if c.endswith(":")]
    return problems


def check_report_dir(report_dir: Path) -> dict[str, dict]:
    """check_report on every HTML page of a rendered cut (reports/<cut>/), keyed by file name;
    each result also has ``problems`` (page_problems)."""
    results = {}
    for page in sorted(Path(report_dir).glob("*.html")):
        seen = check_report(page)
        seen["problems"] = page_problems(seen)
        results[page.name] = seen
    return results
