"""Serve the reader harness: a copy of the read page's contract, the built
viewer from static/reader/, and generated DICOM series.

  python frontend/harness/serve.py [--port 8765] [--data /tmp/iim-reader-harness-data]

Pages: /?case=main|wholebody|codecs|sliceloc|noloc|error|nocookie [&hashed=1] [&csp=0]
  main      STIR + T1 uncompressed 16-bit, positions (different frames of
            reference, T1 offset by 3 mm and spaced 4.5 mm against 5 mm);
            the old configuration fields only
  wholebody the new fields (frontend/README.md): the STIR and T1 stacks head to
            foot (positions descending) in two stations each, a gap declared in
            STIR after slice 9, a coronal STIR stack in its own sync group,
            levels and levelsUrl; the page's stand-in grid rows are in the
            groups "shoulder" (first, no level) then "thigh" (a study level);
            &start=thigh puts the thigh row first
  page      wholebody with grading.js on a stand-in of the read page's grid
            (two muscles each of "shoulder" and "thigh", R/L x STIR/T1) and a
            fake grading API: the grid and the viewer together
  codecs    STIR as JPEG 2000 lossless, T1 as JPEG-LS lossless
  sliceloc  positions null: sync by sliceLocations
  noloc     positions and sliceLocations null: sync by index
  error     the first T1 image is missing (404)
  nocookie  the page sets no session cookie, so images are refused (403)
  hashed=1  loads /static/reader/reader.0123abcd.js (a copy, as Django's
            ManifestStaticFilesStorage would name it) to check that relative
            chunk/worker/wasm URLs still resolve
  csp=0     no Content-Security-Policy header (default: the strict CSP below;
            csp=nowasm: the same without 'wasm-unsafe-eval')

Images need the cookie `sessionid=harness` (set by the page) like Django's
session; POST /reader/prefs/ and POST /reader/api/reads/harness/levels/ need
X-CSRFToken; GET /harness/prefs and /harness/levels list the bodies received,
GET /harness/images the image paths served.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mimetypes
import subprocess
import sys
import threading
from http import cookies
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STATIC = REPO / "static" / "reader"
CSRF = "harness-csrf-token"
HASHED_NAME = "reader.0123abcd.js"

# The policy the read page needs: WebAssembly (the codecs) needs
# 'wasm-unsafe-eval'; the decode worker is a same-origin file.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "img-src 'self' data: blob:; style-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'"
)
CSP_VARIANTS = {"1": CSP, "nowasm": CSP.replace(" 'wasm-unsafe-eval'", "")}

PRESETS = {
    "STIR": [
        {"name": "STIR default", "center": 1600, "width": 3200},
        {"name": "STIR oedema", "center": 2000, "width": 1600},
        {"name": "STIR wide", "center": 2000, "width": 4000},
        {"name": "STIR narrow", "center": 1000, "width": 800},
    ],
    "T1": [
        {"name": "T1 default", "center": 1200, "width": 2400},
        {"name": "T1 fat", "center": 1500, "width": 1800},
        {"name": "T1 wide", "center": 2000, "width": 4000},
        {"name": "T1 narrow", "center": 1000, "width": 900},
    ],
}

LEVELS_URL = "/reader/api/reads/harness/levels/"
STUDY_LEVELS = {"thigh": {"position": 60.0, "source": "study"}}
NEEDED = ("stir", "t1", "stir_j2k", "t1_jls", "stir_cor")

PREFS_LOG: list[dict] = []
LEVELS_LOG: list[dict] = []
LEVELS: dict = {}  # the reader's pins: group -> {"position", "source": "read"}
IMAGE_LOG: list[str] = []  # image paths served, in order


def ensure_data(data_dir: Path) -> dict:
    index = data_dir / "series.json"
    if not index.exists() or any(k not in json.loads(index.read_text()) for k in NEEDED):
        subprocess.run([sys.executable, str(HERE / "make_series.py"), str(data_dir)], check=True)
    return json.loads(index.read_text())


def series_entry(
    info: dict,
    key: str,
    sequence: str,
    folder: str,
    read: int,
    *,
    pos=True,
    loc=True,
    missing_first=False,
):
    s = info[folder]
    ids = [f"wadouri:/reads/{read}/images/{folder}/{name}" for name in s["files"]]
    if missing_first:
        ids[0] = f"wadouri:/reads/{read}/images/{folder}/does-not-exist.dcm"
    return {
        "key": key,
        "sequence": sequence,
        "label": sequence,
        "imageIds": ids,
        "positions": s["positions"] if pos else None,
        "sliceLocations": s["sliceLocations"] if loc else None,
        "presets": PRESETS[sequence],
    }


def stack_entry(info: dict, key: str, sequence: str, folder: str, *, coronal=False) -> dict:
    """A stack as the new contract gives it: display order (axial head to foot), stations,
    gaps, orientation and sync group."""
    s = info[folder]
    n = len(s["files"])
    order = list(range(n)) if coronal else list(reversed(range(n)))  # z ascends in the files
    positions = [s["positions"][i] for i in order]
    stations = [1 if k < n // 2 else 2 for k in range(n)]
    gaps = []
    if not coronal:
        step = abs(positions[1] - positions[0])
        gaps = [
            {"after": k, "mm": round(abs(positions[k] - positions[k + 1]) - step, 1)}
            for k in range(n - 1)
            if abs(positions[k] - positions[k + 1]) > 1.5 * step
        ]
        if key == "stir" and not gaps:
            gaps = [{"after": n // 2 - 1, "mm": 24.0}]  # declared: the viewer only shows it
    orientation = "coronal" if coronal else "axial"
    return {
        "key": key,
        "sequence": sequence,
        "label": f"{sequence} · coronal" if coronal else sequence,
        "orientation": orientation,
        "syncGroup": orientation,
        "imageIds": [f"wadouri:/reads/17/images/{folder}/{s['files'][i]}" for i in order],
        "positions": positions,
        "sliceLocations": [s["sliceLocations"][i] for i in order],
        "stations": stations,
        "stationCount": 2,
        "gaps": gaps,
        "presets": PRESETS[sequence],
    }


def levels_now() -> dict:
    return {**STUDY_LEVELS, **LEVELS}


def make_config(info: dict, case: str) -> dict:
    if case in ("wholebody", "page"):
        return {
            "series": [
                stack_entry(info, "stir", "STIR", "stir"),
                stack_entry(info, "t1", "T1", "t1"),
                stack_entry(info, "stir-coronal", "STIR", "stir_cor", coronal=True),
            ],
            "levels": levels_now(),
            "levelsUrl": LEVELS_URL,
            "prefsUrl": "/reader/prefs/",
            "prefs": {"voi": {}, "keymap": {}},
            "csrfToken": CSRF,
        }
    folders = {"stir": "stir", "t1": "t1"}
    pos = loc = True
    missing = False
    if case == "codecs":
        folders = {"stir": "stir_j2k", "t1": "t1_jls"}
    elif case == "sliceloc":
        pos = False
    elif case == "noloc":
        pos = loc = False
    elif case == "error":
        missing = True
    return {
        "series": [
            series_entry(info, "stir", "STIR", folders["stir"], 17, pos=pos, loc=loc),
            series_entry(
                info, "t1", "T1", folders["t1"], 17, pos=pos, loc=loc, missing_first=missing
            ),
        ],
        "prefsUrl": "/reader/prefs/",
        "prefs": {"voi": {"T1": {"center": 1100, "width": 2100}}, "keymap": {"grade.0": "Digit0"}},
        "csrfToken": CSRF,
    }


class Handler(SimpleHTTPRequestHandler):
    data_dir: Path
    info: dict

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str, extra: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _cookie(self, name: str) -> str | None:
        jar = cookies.SimpleCookie(self.headers.get("Cookie", ""))
        return jar[name].value if name in jar else None

    def do_GET(self):  # noqa: C901 - the test harness routes every path in one place
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path in ("/", "/index.html"):
            case = q.get("case", "main")
            # Each page load is a fresh read: no pins, no grades yet.
            LEVELS.clear()
            GRADES.clear()
            made = make_config(self.info, case)
            config = json.dumps(made).replace("<", "\\u003c")
            src = "/static/reader/" + (HASHED_NAME if q.get("hashed") == "1" else "reader.js")
            page = "page.html" if case == "page" else "index.html"
            grid = page_grid_html() if case == "page" else grid_html(q.get("start") == "thigh")
            html = (
                (HERE / page)
                .read_text()
                .replace("__CONFIG__", config)
                .replace("__GRADING__", json.dumps(GRADING_CONFIG))
                .replace("__READER_SRC__", src)
                .replace("__VIEWPORTS__", viewports_html(made))
                .replace("__GRID__", grid)
            )
            extra = {}
            csp = CSP_VARIANTS.get(q.get("csp", "1"))
            if csp:
                extra["Content-Security-Policy"] = csp
                self.server.last_csp = csp
            if case != "nocookie":
                extra["Set-Cookie"] = "sessionid=harness; Path=/; SameSite=Lax; HttpOnly"
            else:
                extra["Set-Cookie"] = "sessionid=; Path=/; Max-Age=0"
            return self._send(200, html.encode(), "text/html; charset=utf-8", extra)
        if path == "/harness/harness.css":
            return self._send(200, (HERE / "harness.css").read_bytes(), "text/css")
        if path == "/harness/images":
            return self._send(200, json.dumps(IMAGE_LOG).encode(), "application/json")
        if path == GRADING_CONFIG["urls"]["state"]:
            body = {
                "version": GRADING_VERSION[0],
                "status": "in_progress",
                "grades": GRADES,
                "note": "",
                "findings": {},
            }
            return self._send(200, json.dumps(body).encode(), "application/json")
        if path == "/harness/levels":
            return self._send(200, json.dumps(LEVELS_LOG).encode(), "application/json")
        if path == "/harness/prefs":
            return self._send(200, json.dumps(PREFS_LOG).encode(), "application/json")
        if path.startswith("/static/reader/"):
            name = path.rsplit("/", 1)[-1]
            if name == HASHED_NAME:
                name = "reader.js"
            f = STATIC / name
            if "/" in path[len("/static/reader/") :] or not f.is_file():
                return self._send(404, b"not found", "text/plain")
            if name.endswith(".wasm"):
                ctype = "application/wasm"
            elif name.endswith(".js"):
                ctype = "text/javascript"
            else:
                ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return self._send(
                200,
                f.read_bytes(),
                ctype,
                {"Content-Security-Policy": getattr(self.server, "last_csp", CSP)},
            )
        if path.startswith("/reads/"):
            # /reads/<read>/images/<folder>/<file>.dcm
            parts = path.split("/")
            if len(parts) != 6 or parts[3] != "images":
                return self._send(404, b"not found", "text/plain")
            if self._cookie("sessionid") != "harness":
                return self._send(403, b"forbidden: no session", "text/plain")
            f = self.data_dir / parts[4] / parts[5]
            if ".." in parts or not f.is_file():
                return self._send(404, b"not found", "text/plain")
            IMAGE_LOG.append(path)
            return self._send(200, f.read_bytes(), "application/dicom")
        return self._send(404, b"not found", "text/plain")

    do_HEAD = do_GET

    def do_POST(self):
        url = urlparse(self.path)
        if url.path.startswith("/harness/api/") and url.path != GRADING_CONFIG["urls"]["state"]:
            return self._grading(url.path)
        if url.path not in ("/reader/prefs/", LEVELS_URL):
            return self._send(404, b"not found", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.headers.get("X-CSRFToken") != CSRF:
            return self._send(403, b"CSRF token missing or wrong", "text/plain")
        if self._cookie("sessionid") != "harness":
            return self._send(403, b"forbidden: no session", "text/plain")
        try:
            data = json.loads(body)
        except ValueError:
            return self._send(400, b"bad json", "text/plain")
        if url.path == LEVELS_URL:
            return self._levels(data)
        PREFS_LOG.append(data)
        return self._send(200, b'{"ok": true}', "application/json")

    def _grading(self, path):
        """The grading API, just enough for grading.js: every save lands."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, b'{"detail": "bad json"}', "application/json")
        if path.endswith("/grades/"):
            for change in data.get("changes") or []:
                cell = (change["muscle"], change["side"], change["sequence"])
                GRADES[:] = [g for g in GRADES if (g["muscle"], g["side"], g["sequence"]) != cell]
                GRADES.append({**change})
            GRADING_VERSION[0] += 1
        return self._send(
            200, json.dumps({"version": GRADING_VERSION[0]}).encode(), "application/json"
        )

    def _levels(self, data):
        LEVELS_LOG.append(data)
        group = data.get("group") if isinstance(data, dict) else None
        position = data.get("position") if isinstance(data, dict) else None
        if (
            group not in GROUPS
            or isinstance(position, bool)
            or not isinstance(position, (int, float))
        ):
            body = json.dumps({"detail": "Unknown group or no position."}).encode()
            return self._send(400, body, "application/json")
        LEVELS[group] = {"position": float(position), "source": "read"}
        return self._send(200, json.dumps({"levels": levels_now()}).encode(), "application/json")


GROUPS = {"shoulder": "Shoulder girdle", "thigh": "Thigh, anterior"}
MUSCLES = {
    "shoulder": ["deltoid", "supraspinatus"],
    "thigh": ["rectus-femoris", "vastus-lateralis"],
}
GRADING_CONFIG = {
    "readId": "harness",
    "version": 1,
    "status": "in_progress",
    "urls": {
        name: f"/harness/api/{name}/"
        for name in ("state", "grades", "submit", "amend", "notes", "activity", "prefs")
    },
    "keymap": {},
    "csrfToken": CSRF,
}
GRADES: list[dict] = []
GRADING_VERSION = [1]


def page_grid_html() -> str:
    """The grid rows as templates/scoring/read.html lays them out."""
    rows = []
    for group, muscles in MUSCLES.items():
        rows.append(
            f'<tr class="group-row" data-group-heading="{group}">'
            f'<th colspan="5">{GROUPS[group]}</th></tr>'
        )
        for muscle in muscles:
            cells = "".join(
                f'<td class="cell" role="gridcell" tabindex="-1" data-muscle="{muscle}" '
                f'data-side="{side}" data-sequence="{seq}" data-group="{group}"></td>'
                for side in "RL"
                for seq in ("STIR", "T1")
            )
            rows.append(
                f'<tr class="muscle-row" data-muscle="{muscle}" data-group="{group}">'
                f'<th scope="row">{muscle}</th>{cells}</tr>'
            )
    return "\n".join(rows)


def viewports_html(config: dict) -> str:
    return "\n".join(
        f'<section class="viewport-cell"><div class="viewport" id="viewport-{s["key"]}"></div>'
        f'<div class="viewport-overlay" data-for="{s["key"]}"></div></section>'
        for s in config["series"]
    )


def grid_html(thigh_first: bool) -> str:
    """Stand-in for the read page's grid rows (grading.js is not loaded here)."""
    order = ["thigh", "shoulder"] if thigh_first else ["shoulder", "thigh"]
    rows = []
    for group in order:
        rows.append(
            f'<tr class="group-row" data-group-heading="{group}"><th>{GROUPS[group]}</th></tr>'
        )
        rows.append(
            f'<tr class="muscle-row" data-group="{group}"><th>{group} muscle</th>'
            f'<td class="cell" tabindex="-1" data-group="{group}"></td></tr>'
        )
    return "\n".join(rows)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A page closed while a keepalive POST or a prefetch was answered.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_server(port: int, data_dir: Path) -> ThreadingHTTPServer:
    info = ensure_data(data_dir)
    handler = type("BoundHandler", (Handler,), {"data_dir": data_dir, "info": info})
    return QuietServer(("127.0.0.1", port), handler)


def start_in_thread(port: int = 0, data_dir: Path | None = None):
    server = make_server(port, data_dir or Path("/tmp/iim-reader-harness-data"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--data", default="/tmp/iim-reader-harness-data")
    args = ap.parse_args()
    server = make_server(args.port, Path(args.data))
    print(f"harness on http://127.0.0.1:{server.server_address[1]}/?case=main", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
