"""Drive the reader harness in headless Chromium and print PASS/FAIL lines.

  npm run build && .venv/bin/python frontend/harness/check.py [--shots DIR]

Needs static/reader/ built, Playwright for Python and /usr/bin/chromium
(Debian's; `apt-get install -y chromium`). Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
READY = "body[data-viewer-ready], body[data-viewer-error]"

results: list[tuple[bool, str, str]] = []


def check(ok: bool, name: str, detail: object = "") -> bool:
    results.append((bool(ok), name, str(detail)))
    print(
        f"{'PASS' if ok else 'FAIL'} {name}{'  -- ' + str(detail) if detail != '' else ''}",
        flush=True,
    )
    return bool(ok)


def nearest(values: list[float], target: float) -> int:
    best, dist = 0, float("inf")
    for i, v in enumerate(values):
        if abs(v - target) < dist:
            best, dist = i, abs(v - target)
    return best


# -- a tiny PNG decoder (8-bit RGB/RGBA, not interlaced), to avoid needing Pillow
def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray(height * stride)
    prev = bytearray(stride)
    i = 0
    for y in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return width, height, channels, bytes(out)


def image_stats(png: bytes) -> dict:
    w, h, ch, px = png_pixels(png)
    lum = [px[i] for i in range(0, len(px), ch)]  # red channel of a grey image
    bright = sum(1 for v in lum if v > 40)
    return {"mean": sum(lum) / len(lum), "bright_fraction": bright / len(lum), "pixels": lum}


def differs(a: dict, b: dict) -> float:
    n = min(len(a["pixels"]), len(b["pixels"]))
    return sum(1 for i in range(n) if abs(a["pixels"][i] - b["pixels"][i]) > 30) / n


def get_json(base: str, path: str):
    # base is the harness's own http://127.0.0.1:<port>
    with urllib.request.urlopen(base + path) as response:  # noqa: S310
        return json.loads(response.read())


def wait_until(page, js: str, timeout: float = 10.0):
    end = time.time() + timeout
    value = None
    while time.time() < end:
        value = page.evaluate(js)
        if value:
            return value
        time.sleep(0.05)
    return value


def settled(page) -> bool:
    return bool(
        wait_until(
            page,
            "Object.values(iimViewer.state()).every(v => v.shownIndex === v.index)",
        )
    )


def state(page) -> dict:
    return page.evaluate("iimViewer.state()")


def centre(page, key: str) -> tuple[float, float]:
    box = page.locator(f"#viewport-{key}").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def open_case(browser, base: str, query: str, sink: list):
    page = browser.new_page(viewport={"width": 1200, "height": 700})
    page.on("console", lambda m: sink.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: sink.append(f"pageerror: {e}"))
    page.on(
        "requestfailed", lambda r: sink.append(f"requestfailed: {r.method} {r.url} {r.failure}")
    )
    page.goto(f"{base}/?{query}")
    page.wait_for_selector(READY, state="attached", timeout=60000)
    return page


def main_case(browser, base: str, info: dict, shots: Path) -> None:
    logs: list[str] = []
    t0 = time.time()
    page = open_case(browser, base, "case=main", logs)
    ds = page.evaluate("({...document.body.dataset})")
    check(
        ds.get("viewerReady") == "1" and "viewerError" not in ds,
        "main: viewerReady",
        f"{ds} in {time.time() - t0:.1f}s",
    )
    if ds.get("viewerReady") != "1":
        return
    stir_pos, t1_pos = info["stir"]["positions"], info["t1"]["positions"]
    st = state(page)
    check(st["stir"]["count"] == 20 and st["t1"]["count"] == 20, "main: both stacks have 20 slices")
    check(
        st["t1"]["index"] == nearest(t1_pos, stir_pos[0]),
        "main: initial T1 slice matches STIR slice 1",
        st["t1"]["index"],
    )
    check(
        st["t1"]["voi"] == {"center": 1100, "width": 2100},
        "main: T1 window restored from prefs.voi",
        st["t1"]["voi"],
    )
    check(
        st["stir"]["voi"] == {"center": 1600, "width": 3200},
        "main: STIR window from the DICOM header",
        st["stir"]["voi"],
    )
    overlay = page.locator('.viewport-overlay[data-for="stir"]').inner_text()
    check(
        "1 / 20" in overlay and "STIR" in overlay and "W 3200" in overlay and "L 1600" in overlay,
        "main: STIR overlay shows label, counter, window",
        overlay.replace("\n", " | "),
    )

    markers = page.evaluate(
        """Object.fromEntries(['left', 'right', 'top', 'bottom'].map(edge => [edge,
             document.querySelector('#viewport-stir').parentElement
               .querySelector(`.orientation-marker[data-edge="${edge}"]`).textContent]))"""
    )
    check(
        markers == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
        and st["t1"]["markers"] == markers,
        "main: axial orientation markers R/L/A/P on the edges and in state()",
        markers,
    )

    # Prefetch: the whole of both stacks is fetched without scrolling, once each.
    def fetched():
        paths = get_json(base, "/harness/images")
        return [p for p in paths if "/stir/" in p or "/t1/" in p]

    end = time.time() + 10
    while time.time() < end and len(set(fetched())) < 40:
        time.sleep(0.1)
    paths = fetched()
    check(
        len(set(paths)) == 40 and len(paths) == 40,
        "prefetch: all 40 slices fetched once, before scrolling",
        f"{len(set(paths))} distinct, {len(paths)} requests",
    )

    # Screenshot: two non-black MR images.
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "main.png"))
    before = {k: image_stats(page.locator(f"#viewport-{k}").screenshot()) for k in ("stir", "t1")}
    for k in ("stir", "t1"):
        check(
            before[k]["bright_fraction"] > 0.2,
            f"main: {k} viewport shows an image (not black)",
            f"{before[k]['bright_fraction']:.2f} of pixels > 40",
        )

    # Wheel over STIR: 7 notches down.
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    for _ in range(7):
        page.mouse.wheel(0, 100)
        page.wait_for_timeout(30)
    settled(page)
    st = state(page)
    check(st["stir"]["index"] == 7, "wheel over STIR: STIR moves 7 slices", st["stir"]["index"])
    exp = nearest(t1_pos, stir_pos[st["stir"]["index"]])
    check(
        st["t1"]["index"] == exp,
        "wheel over STIR: T1 at the nearest position",
        f"STIR z={stir_pos[st['stir']['index']]} T1 index {st['t1']['index']} "
        f"z={t1_pos[st['t1']['index']]} (expected {exp})",
    )
    after = {k: image_stats(page.locator(f"#viewport-{k}").screenshot()) for k in ("stir", "t1")}
    for k in ("stir", "t1"):
        check(
            differs(before[k], after[k]) > 0.002,
            f"wheel: {k} shows a different slice",
            f"{differs(before[k], after[k]):.4f}",
        )
    ov = page.locator('.viewport-overlay[data-for="stir"]').inner_text()
    check("8 / 20" in ov, "wheel: overlay counter updated", ov.replace("\n", " | "))

    # Wheel over T1: 5 notches down; STIR follows.
    x, y = centre(page, "t1")
    page.mouse.move(x, y)
    for _ in range(5):
        page.mouse.wheel(0, 100)
        page.wait_for_timeout(30)
    settled(page)
    st = state(page)
    t1_expected = min(19, exp + 5)
    exp_stir = nearest(stir_pos, t1_pos[st["t1"]["index"]])
    check(
        st["t1"]["index"] == t1_expected and st["stir"]["index"] == exp_stir,
        "wheel over T1: T1 moves, STIR at the nearest position",
        f"T1 {st['t1']['index']} (exp {t1_expected}) STIR {st['stir']['index']} (exp {exp_stir})",
    )
    # Up the stack.
    page.mouse.wheel(0, -100)
    settled(page)
    st = state(page)
    check(
        st["t1"]["index"] == t1_expected - 1
        and st["stir"]["index"] == nearest(stir_pos, t1_pos[t1_expected - 1]),
        "wheel up over T1: one slice back, STIR follows",
        f"T1 {st['t1']['index']} STIR {st['stir']['index']}",
    )

    # The mapping for every STIR slice, via the API.
    bad = []
    for i in range(20):
        page.evaluate(f"iimViewer.setSlice('stir', {i})")
        st = state(page)
        if st["t1"]["index"] != nearest(t1_pos, stir_pos[i]):
            bad.append((i, st["t1"]["index"]))
    check(not bad, "setSlice: T1 nearest for every STIR slice", bad)
    bad = []
    for k in range(20):
        page.evaluate(f"iimViewer.setSlice('t1', {k})")
        st = state(page)
        if st["stir"]["index"] != nearest(stir_pos, t1_pos[k]):
            bad.append((k, st["stir"]["index"]))
    check(not bad, "setSlice: STIR nearest for every T1 slice", bad)
    page.evaluate("iimViewer.setSlice('stir', 0)")
    page.evaluate("iimViewer.setSlice('stir', 99)")
    check(state(page)["stir"]["index"] == 19, "setSlice clamps to the last slice")
    page.evaluate("iimViewer.scrollBy('stir', -100)")
    check(state(page)["stir"]["index"] == 0, "scrollBy clamps to the first slice")
    settled(page)

    # Keyboard: arrows and page keys on the document.
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    check(
        state(page)["stir"]["index"] == 2, "ArrowDown x2: next slices", state(page)["stir"]["index"]
    )
    page.keyboard.press("PageDown")
    check(state(page)["stir"]["index"] == 7, "PageDown: 5 slices on", state(page)["stir"]["index"])
    page.keyboard.press("PageUp")
    page.keyboard.press("ArrowUp")
    st = state(page)
    check(
        st["stir"]["index"] == 1 and st["t1"]["index"] == nearest(t1_pos, stir_pos[1]),
        "PageUp + ArrowUp: back, T1 follows",
        (st["stir"]["index"], st["t1"]["index"]),
    )
    page.locator("#comment").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+Digit3")
    page.keyboard.press("r")
    st2 = state(page)
    check(
        st2["stir"]["index"] == 1 and st2["stir"]["voi"] == st["stir"]["voi"],
        "keys typed in an <input> do not reach the viewer",
        st2["stir"]["index"],
    )
    page.locator("#notes").focus()
    page.keyboard.press("PageDown")
    check(state(page)["stir"]["index"] == 1, "keys typed in a <textarea> do not reach the viewer")
    # A click on the image takes the focus out of the field: keys work again.
    x, y = centre(page, "t1")
    page.mouse.click(x, y)
    page.keyboard.press("ArrowDown")
    st = state(page)
    check(
        st["t1"]["index"] == nearest(t1_pos, stir_pos[1]) + 1
        and st["t1"]["voi"] == st2["t1"]["voi"],
        "click on a viewport, then ArrowDown: scrolls again",
        (st["stir"]["index"], st["t1"]["index"]),
    )
    page.evaluate("iimViewer.setSlice('stir', 1)")
    settled(page)
    # Cornerstone takes a mouse-down within 400 ms of a click (on any viewport)
    # as the second half of a double click: wait before the next drag.
    page.wait_for_timeout(500)

    # Window/level: left drag on STIR changes STIR only.
    t1_voi = state(page)["t1"]["voi"]
    stir_voi = state(page)["stir"]["voi"]
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    page.mouse.down(button="left")
    page.mouse.move(x + 60, y + 40, steps=8)
    page.mouse.up(button="left")
    st = state(page)
    check(
        st["stir"]["voi"] != stir_voi and st["t1"]["voi"] == t1_voi,
        "left drag on STIR: STIR window changes, T1 does not",
        f"STIR {stir_voi} -> {st['stir']['voi']}, T1 {st['t1']['voi']}",
    )
    dragged = st["stir"]["voi"]
    page.keyboard.press("ArrowDown")
    settled(page)
    check(
        state(page)["stir"]["voi"] == dragged,
        "STIR window kept when scrolling",
        state(page)["stir"]["voi"],
    )
    page.wait_for_timeout(1400)
    log = get_json(base, "/harness/prefs")
    check(
        bool(log) and log[-1]["voi"].get("STIR") == dragged and log[-1]["voi"].get("T1") == t1_voi,
        "dragged STIR window POSTed to prefsUrl ~1 s later",
        log[-1] if log else "no POST",
    )
    n_posts = len(log)

    # Presets: Shift+2 both viewports (each its own preset 2); Alt+Shift+3 over T1 and
    # Alt+Shift+4 over STIR that viewport only; plain 2 does nothing (a grade).
    x, y = centre(page, "t1")
    page.mouse.move(x, y)
    page.keyboard.press("Digit2")
    check(state(page)["t1"]["voi"] == t1_voi, "plain 2 does not change the window (grading key)")
    page.keyboard.press("Shift+Digit2")
    st = state(page)
    check(
        st["t1"]["voi"] == {"center": 1500, "width": 1800}
        and st["stir"]["voi"] == {"center": 2000, "width": 1600},
        "Shift+2: preset 2 of each sequence in both viewports",
        f"T1 {st['t1']['voi']} STIR {st['stir']['voi']}",
    )
    ov = page.locator('.viewport-overlay[data-for="t1"]').inner_text()
    check(
        "W 1800" in ov and "L 1500" in ov, "preset shown in the T1 overlay", ov.replace("\n", " | ")
    )
    page.keyboard.press("Alt+Shift+Digit3")
    st = state(page)
    check(
        st["t1"]["voi"] == {"center": 2000, "width": 4000}
        and st["stir"]["voi"] == {"center": 2000, "width": 1600},
        "Alt+Shift+3 over T1: T1 preset 3, STIR unchanged",
        f"T1 {st['t1']['voi']} STIR {st['stir']['voi']}",
    )
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    page.keyboard.press("Alt+Shift+Digit4")
    st = state(page)
    check(
        st["stir"]["voi"] == {"center": 1000, "width": 800}
        and st["t1"]["voi"] == {"center": 2000, "width": 4000},
        "Alt+Shift+4 over STIR: STIR preset 4, T1 unchanged",
        f"STIR {st['stir']['voi']}",
    )
    pressed = page.evaluate(
        """[...document.querySelectorAll('.viewport-tools[data-for="stir"] .preset-button')]
           .map(b => b.getAttribute('aria-pressed'))"""
    )
    check(
        pressed == ["false", "false", "false", "true"],
        "the STIR preset buttons show preset 4 in use",
        pressed,
    )
    page.evaluate("iimViewer.applyPreset('t1', 0)")
    check(
        state(page)["t1"]["voi"] == {"center": 1200, "width": 2400},
        "applyPreset('t1', 0): first preset",
    )
    page.mouse.move(5, 650)  # off the viewports: the last active one (STIR) is used
    page.keyboard.press("Alt+Shift+Digit1")
    check(
        state(page)["stir"]["voi"] == {"center": 1600, "width": 3200},
        "Alt+Shift+1 off the viewports: last active (STIR)",
    )

    # Prefs saved (debounced POST with X-CSRFToken).
    page.wait_for_timeout(1600)
    log = get_json(base, "/harness/prefs")
    last = log[-1]["voi"] if log else {}
    check(
        bool(log)
        and last.get("STIR") == {"center": 1600, "width": 3200}
        and last.get("T1") == {"center": 1200, "width": 2400},
        "window/level saved to prefsUrl (debounced POST)",
        f"{len(log)} POSTs, last {last}",
    )
    check(
        len(log) - n_posts == 1,
        "saves are debounced",
        f"{len(log) - n_posts} POST(s) for 6 quick changes",
    )
    status = page.evaluate("iimViewer.prefsStatus()")
    check(status and not status["error"], "prefs POST accepted (CSRF header, cookie)", status)

    # Zoom and pan linked (the default): right drag on STIR zooms both; ctrl+wheel on T1
    # zooms both. After l (unlinked): middle drag and shift+drag pan STIR only.
    check(
        all(v["linked"] for v in state(page).values())
        and page.evaluate(
            "[...document.querySelectorAll('.viewport-tools .link-button')]"
            ".every(b => b.getAttribute('aria-pressed') === 'true' && !b.hidden)"
        ),
        "zoom/pan linked by default, shown on the link buttons",
    )
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    z0 = state(page)
    page.mouse.down(button="right")
    page.mouse.move(x, y - 80, steps=8)
    page.mouse.up(button="right")
    z1 = state(page)
    check(
        z1["stir"]["zoom"] != z0["stir"]["zoom"] and z1["t1"]["zoom"] == z1["stir"]["zoom"],
        "right drag on STIR zooms STIR, T1 follows (linked)",
        f"{z0['stir']['zoom']} -> {z1['stir']['zoom']}, T1 {z1['t1']['zoom']}",
    )
    check(
        z1["stir"]["voi"] == z0["stir"]["voi"] and z1["stir"]["index"] == z0["stir"]["index"],
        "right drag changes neither window nor slice",
    )
    x2, y2 = centre(page, "t1")
    page.mouse.move(x2, y2)
    idx = state(page)["t1"]["index"]
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_timeout(100)
    z2 = state(page)
    check(
        z2["t1"]["zoom"] != z1["t1"]["zoom"]
        and z2["t1"]["index"] == idx
        and z2["stir"]["zoom"] == z2["t1"]["zoom"],
        "ctrl+wheel zooms T1 without scrolling, STIR follows",
        f"{z1['t1']['zoom']} -> {z2['t1']['zoom']}, STIR {z2['stir']['zoom']}",
    )
    page.keyboard.press("l")
    linked = page.evaluate("document.querySelector('#viewport-stir').parentElement.dataset.linked")
    check(
        not any(v["linked"] for v in state(page).values()) and linked == "0",
        "l unlinks zoom/pan (state and frame)",
        linked,
    )
    page.mouse.move(x, y)
    page.mouse.down(button="middle")
    page.mouse.move(x + 50, y + 30, steps=6)
    page.mouse.up(button="middle")
    p1 = state(page)
    check(
        p1["stir"]["pan"] != z2["stir"]["pan"] and p1["t1"]["pan"] == z2["t1"]["pan"],
        "middle drag pans STIR only (unlinked)",
        f"{z2['stir']['pan']} -> {p1['stir']['pan']}, T1 {p1['t1']['pan']}",
    )
    page.keyboard.down("Shift")
    page.mouse.move(x, y)
    page.mouse.down(button="left")
    page.mouse.move(x - 40, y - 20, steps=6)
    page.mouse.up(button="left")
    page.keyboard.up("Shift")
    p2 = state(page)
    check(
        p2["stir"]["pan"] != p1["stir"]["pan"] and p2["stir"]["voi"] == p1["stir"]["voi"],
        "shift+left drag pans STIR (window unchanged)",
        f"{p1['stir']['pan']} -> {p2['stir']['pan']}, voi {p2['stir']['voi']}",
    )
    page.keyboard.press("l")  # over STIR: T1 takes STIR's zoom and pan at once
    p2b = state(page)
    check(
        p2b["t1"]["pan"] == p2b["stir"]["pan"] and p2b["t1"]["zoom"] == p2b["stir"]["zoom"],
        "l links again: T1 takes the zoom and pan of STIR (the viewport used)",
        f"T1 {p2b['t1']['pan']} STIR {p2b['stir']['pan']}",
    )
    page.mouse.move(x2, y2)
    page.mouse.down(button="middle")
    page.mouse.move(x2 + 30, y2 + 30, steps=6)
    page.mouse.up(button="middle")
    p3 = state(page)
    check(
        p3["stir"]["linked"]
        and p3["t1"]["pan"] != p2["t1"]["pan"]
        and p3["stir"]["pan"] == p3["t1"]["pan"],
        "l links again: a pan on T1 moves STIR too",
        f"T1 {p3['t1']['pan']} STIR {p3['stir']['pan']}",
    )
    page.screenshot(path=str(shots / "zoomed.png"))

    # R resets zoom, pan and window.
    page.keyboard.press("r")
    page.wait_for_timeout(100)
    r = state(page)
    check(
        all(r[k]["zoom"] == 1 and r[k]["pan"] == [0, 0] for k in ("stir", "t1")),
        "R resets zoom and pan",
        {k: (r[k]["zoom"], r[k]["pan"]) for k in r},
    )
    check(
        r["stir"]["voi"] == {"center": 1600, "width": 3200},
        "R resets the STIR window to the image's",
        r["stir"]["voi"],
    )

    keymap = page.evaluate("iimViewer.keymap()")
    check(
        keymap["bindings"]["presetBoth2"] == ["Shift+Digit2"]
        and keymap["bindings"]["preset2"] == ["Alt+Shift+Digit2"]
        and keymap["bindings"]["linkZoomPan"] == ["l"]
        and keymap["bindings"]["pinLevel"] == ["p"],
        "keymap() lists the viewer shortcuts",
        keymap["bindings"],
    )
    check(
        any("Wheel" in g["gesture"] for g in keymap.get("gestures", []))
        and any("Left drag" in g["gesture"] for g in keymap.get("gestures", [])),
        "keymap() lists the mouse gestures (for the ? list)",
        keymap.get("gestures"),
    )

    errors = [
        line
        for line in logs
        if line.startswith("pageerror")
        or "Content Security Policy" in line
        or (line.startswith("error") and "favicon" not in line and "404" not in line)
    ]
    check(not errors, "main: no page errors, console errors or CSP violations", errors[:5])
    page.screenshot(path=str(shots / "final.png"))
    page.close()


def cursor(page, group: str) -> None:
    """The grading grid's cursor moves to a row of `group` (as grading/page.js tells it)."""
    page.evaluate(
        "g => document.dispatchEvent(new CustomEvent('iim:grid-cursor', {detail: {group: g}}))",
        group,
    )


def edge_markers(page, key: str) -> dict:
    return page.evaluate(
        """key => Object.fromEntries(['left', 'right', 'top', 'bottom'].map(edge => [edge,
             document.getElementById('viewport-' + key).parentElement
               .querySelector(`.orientation-marker[data-edge="${edge}"]`).textContent]))""",
        key,
    )


def wholebody_case(browser, base: str, info: dict, shots: Path) -> None:
    """The new configuration: stacks head to foot in stations, a gap, a coronal stack in
    its own sync group, region levels (study level for "thigh" at 60 mm) and pins."""
    logs: list[str] = []
    page = open_case(browser, base, "case=wholebody", logs)
    ds = page.evaluate("({...document.body.dataset})")
    check(ds.get("viewerReady") == "1", "wholebody: viewerReady", ds)
    if ds.get("viewerReady") != "1":
        return
    stir_pos = list(reversed(info["stir"]["positions"]))  # head to foot
    t1_pos = list(reversed(info["t1"]["positions"]))
    st = state(page)
    check(
        st["stir"]["index"] == 0
        and st["stir"]["station"] == 1
        and st["stir"]["stationCount"] == 2
        and st["t1"]["index"] == nearest(t1_pos, stir_pos[0]),
        "wholebody: first row's group has no level: opens at the head end",
        {k: (v["index"], v["position"]) for k, v in st.items()},
    )
    ov = page.locator('.viewport-overlay[data-for="stir"]').inner_text().replace("\n", " ")
    check(
        f"station 1 / 2 · position +{stir_pos[0]:.1f} mm · slice 1 / 20" in ov,
        "wholebody: overlay shows station, position and slice",
        ov,
    )
    axial = {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    coronal = {"left": "R", "right": "L", "top": "H", "bottom": "F"}
    got = {k: edge_markers(page, k) for k in ("stir", "t1", "stir-coronal")}
    check(
        got["stir"] == axial
        and got["t1"] == axial
        and got["stir-coronal"] == coronal
        and st["stir-coronal"]["markers"] == coronal,
        "wholebody: markers R/L/A/P on axial, R/L/H/F on coronal",
        got,
    )
    check(
        st["stir-coronal"]["syncGroup"] == "coronal"
        and not st["stir-coronal"]["linked"]
        and st["stir"]["linked"],
        "wholebody: the coronal stack has its own sync group, not linked",
        {k: (v["syncGroup"], v["linked"]) for k, v in st.items()},
    )

    # A gap: STIR declares 24 mm between slices 9 and 10.
    page.evaluate("iimViewer.setSlice('stir', 9)")
    settled(page)
    ov9 = page.locator('.viewport-overlay[data-for="stir"] .viewport-overlay-gap').inner_text()
    page.evaluate("iimViewer.setSlice('stir', 10)")
    settled(page)
    st = state(page)
    ov10 = page.locator('.viewport-overlay[data-for="stir"] .viewport-overlay-gap').inner_text()
    check(
        ov9 == "gap 24 mm below" and ov10 == "gap 24 mm above" and st["stir"]["station"] == 2,
        "wholebody: the gap is marked on the slices either side of it",
        (ov9, ov10, st["stir"]["station"]),
    )

    # Sync groups: wheel over STIR moves T1, not the coronal stack; and the other way round.
    cor0 = st["stir-coronal"]["index"]
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    for _ in range(3):
        page.mouse.wheel(0, 100)
        page.wait_for_timeout(30)
    settled(page)
    st = state(page)
    check(
        st["stir"]["index"] == 13
        and st["t1"]["index"] == nearest(t1_pos, stir_pos[13])
        and st["stir-coronal"]["index"] == cor0,
        "wholebody: wheel over STIR: T1 follows, the coronal stack does not",
        {k: v["index"] for k, v in st.items()},
    )
    x, y = centre(page, "stir-coronal")
    page.mouse.move(x, y)
    for _ in range(4):
        page.mouse.wheel(0, 100)
        page.wait_for_timeout(30)
    settled(page)
    st2 = state(page)
    check(
        st2["stir-coronal"]["index"] == cor0 + 4
        and st2["stir"]["index"] == 13
        and st2["t1"]["index"] == st["t1"]["index"],
        "wholebody: wheel over the coronal stack moves it alone",
        {k: v["index"] for k, v in st2.items()},
    )
    lines = page.evaluate("iimViewer.referenceLines()")
    drawn = page.evaluate("document.querySelectorAll('#viewport-stir-coronal svg line').length")
    check(
        lines == {"source": "stir", "targets": ["stir-coronal"]} and drawn >= 1,
        "wholebody: the axial STIR slice drawn as a line on the coronal stack",
        (lines, drawn),
    )

    # The grid's cursor moves to the thigh (study level 60 mm): the axial stacks go there.
    cursor(page, "thigh")
    settled(page)
    st = state(page)
    check(
        st["stir"]["index"] == nearest(stir_pos, 60.0)
        and st["t1"]["index"] == nearest(t1_pos, stir_pos[st["stir"]["index"]])
        and st["stir-coronal"]["index"] == cor0 + 4,
        "wholebody: cursor to a group with a level: axial stacks go there",
        {k: (v["index"], v["position"]) for k, v in st.items()},
    )
    # Back to the shoulder (no level yet): nothing moves. Pin it from T1 (p over T1).
    cursor(page, "shoulder")
    page.evaluate("iimViewer.setSlice('t1', 3)")
    settled(page)
    x, y = centre(page, "t1")
    page.mouse.move(x, y)
    page.keyboard.press("p")
    wait_until(page, "iimViewer.levels().shoulder")
    posted = get_json(base, "/harness/levels")
    levels = page.evaluate("iimViewer.levels()")
    msg = page.locator('.viewport-overlay[data-for="t1"] .viewport-overlay-message').inner_text()
    check(
        posted
        and posted[-1] == {"group": "shoulder", "position": t1_pos[3]}
        and levels.get("shoulder", {}).get("position") == t1_pos[3]
        and "Shoulder girdle" in msg,
        "wholebody: p pins the cursor's group at the focused slice (POST, levels, message)",
        (posted[-1:] if posted else None, levels, msg),
    )
    cursor(page, "thigh")
    settled(page)
    cursor(page, "shoulder")
    settled(page)
    st = state(page)
    check(
        st["stir"]["index"] == nearest(stir_pos, t1_pos[3]) and st["t1"]["index"] == 3,
        "wholebody: back to the pinned group: the stacks return to its level",
        {k: (v["index"], v["position"]) for k, v in st.items()},
    )
    # p over the coronal stack: the pin takes the first axial stack's (STIR's) position.
    page.evaluate("iimViewer.setSlice('stir', 16)")
    settled(page)
    x, y = centre(page, "stir-coronal")
    page.mouse.move(x, y)
    page.keyboard.press("p")
    wait_until(page, f"iimViewer.levels().shoulder.position === {stir_pos[16]}")
    posted = get_json(base, "/harness/levels")
    check(
        posted[-1] == {"group": "shoulder", "position": stir_pos[16]},
        "wholebody: p over the coronal stack pins the axial STIR position",
        posted[-1],
    )
    answer = page.evaluate("iimViewer.pinLevel('no-such-group')")
    check(
        not answer["ok"] and "Unknown group" in answer["message"],
        "wholebody: a refused pin (400) is shown with the server's reason",
        answer.get("message"),
    )

    # Preset and link buttons.
    page.locator('.viewport-tools[data-for="stir"] .preset-button[data-preset="2"]').click()
    st = state(page)
    check(
        st["stir"]["voi"] == {"center": 2000, "width": 4000}
        and st["stir"]["presetIndex"] == 2
        and st["t1"]["presetIndex"] is None,
        "wholebody: a preset button sets its viewport's window only",
        (st["stir"]["voi"], st["t1"]["voi"]),
    )
    page.locator('.viewport-tools[data-for="t1"] .link-button').click()
    check(not state(page)["stir"]["linked"], "wholebody: the link button unlinks zoom/pan")
    page.locator('.viewport-tools[data-for="t1"] .link-button').click()
    check(state(page)["stir"]["linked"], "wholebody: and links them again")
    page.evaluate("iimViewer.setSlice('stir', 14)")
    settled(page)
    page.mouse.move(5, 690)
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "wholebody.png"))
    errors = [
        line
        for line in logs
        if line.startswith("pageerror")
        or "Content Security Policy" in line
        or (line.startswith("error") and not any(c in line for c in ("favicon", "404", "400")))
    ]
    check(not errors, "wholebody: no page errors, console errors or CSP violations", errors[:5])
    page.close()

    # The grid's first row is a group with a known level: the stacks open there.
    page = open_case(browser, base, "case=wholebody&start=thigh", [])
    st = state(page)
    check(
        st["stir"]["index"] == nearest(stir_pos, 60.0)
        and st["t1"]["index"] == nearest(t1_pos, stir_pos[st["stir"]["index"]]),
        "wholebody: opens at the level of the first row's group",
        {k: (v["index"], v["position"]) for k, v in st.items()},
    )
    page.close()


def page_case(browser, base: str, info: dict, shots: Path) -> None:
    """grading.js and reader.js on one page: the grid's cursor drives the region levels,
    grades and viewer keys do not collide, `?` lists the viewer's keys and gestures."""
    logs: list[str] = []
    page = open_case(browser, base, "case=page", logs)
    ok = wait_until(
        page, "document.body.dataset.gradingReady === '1' && !!document.body.dataset.viewerReady"
    )
    check(bool(ok), "page: grid and viewer ready", page.evaluate("({...document.body.dataset})"))
    if not ok:
        return
    stir_pos = list(reversed(info["stir"]["positions"]))
    st = state(page)
    check(
        page.evaluate("iimGrading.cursor()") == "deltoid|R|STIR" and st["stir"]["index"] == 0,
        "page: cursor on the first cell (shoulder, no level): images at the head end",
        (page.evaluate("iimGrading.cursor()"), st["stir"]["index"]),
    )
    page.keyboard.press("j")
    page.keyboard.press("j")  # rectus-femoris: the thigh (study level 60 mm)
    settled(page)
    st = state(page)
    check(
        page.evaluate("iimGrading.cursor()") == "rectus-femoris|R|STIR"
        and st["stir"]["index"] == nearest(stir_pos, 60.0),
        "page: j into the thigh rows brings the images to the thigh's level",
        (page.evaluate("iimGrading.cursor()"), st["stir"]["index"], st["stir"]["position"]),
    )
    voi = st["stir"]["voi"]
    page.keyboard.press("1")
    page.wait_for_timeout(100)
    graded = page.evaluate(
        "document.querySelector('td.cell[data-muscle=\"rectus-femoris\"]').textContent"
    )
    check(
        graded == "1" and state(page)["stir"]["voi"] == voi,
        "page: 1 grades the cell and leaves the window alone",
        (graded, state(page)["stir"]["voi"]),
    )
    page.keyboard.press("k")
    page.keyboard.press("k")  # supraspinatus: the shoulder, no level: nothing moves
    settled(page)
    check(
        state(page)["stir"]["index"] == nearest(stir_pos, 60.0),
        "page: k back to a group with no level: the images stay",
        state(page)["stir"]["index"],
    )
    page.evaluate("iimViewer.setSlice('stir', 2)")
    settled(page)
    x, y = centre(page, "stir")
    page.mouse.move(x, y)
    page.keyboard.press("p")
    wait_until(page, "iimViewer.levels().shoulder")
    msg = page.locator('.viewport-overlay[data-for="stir"] .viewport-overlay-message').inner_text()
    check(
        page.evaluate("iimViewer.levels().shoulder.position") == stir_pos[2]
        and "Shoulder girdle" in msg,
        "page: p pins the cursor row's group (shoulder) at the STIR slice",
        msg,
    )
    page.keyboard.press("j")
    page.keyboard.press("j")
    settled(page)
    page.keyboard.press("k")
    page.keyboard.press("k")
    settled(page)
    check(
        state(page)["stir"]["index"] == 2,
        "page: thigh and back: the images return to the pinned shoulder level",
        state(page)["stir"]["index"],
    )
    page.keyboard.press("?")
    page.wait_for_selector("#help-dialog[open]")
    text = page.locator("#shortcut-table").inner_text()
    check(
        all(
            w in text
            for w in (
                "Link / unlink zoom",
                "Pin:",
                "Shift+Digit1",
                "Alt+Shift+Digit1",
                "Left drag",
                "Wheel",
                "Right drag",
            )
        ),
        "page: ? lists the viewer's keys and mouse gestures",
        text[-400:].replace("\n", " | "),
    )
    page.screenshot(path=str(shots / "page-help.png"))
    page.keyboard.press("l")  # the dialog has the keyboard: no unlink
    check(state(page)["stir"]["linked"], "page: viewer keys do nothing while ? is open")
    page.locator("#help-close").click()
    page.keyboard.press("l")
    check(not state(page)["stir"]["linked"], "page: l unlinks zoom/pan (not a grid key)")
    page.mouse.move(5, 5)
    page.screenshot(path=str(shots / "page.png"))
    errors = [
        line
        for line in logs
        if line.startswith("pageerror")
        or "Content Security Policy" in line
        or (line.startswith("error") and not any(c in line for c in ("favicon", "404", "400")))
    ]
    failed = [line for line in logs if line.startswith("requestfailed")]
    check(
        not errors and not failed,
        "page: no page errors, console errors, failed requests or CSP violations",
        (errors + failed)[:5],
    )
    page.close()


def other_cases(browser, base: str, info: dict, shots: Path) -> None:
    # JPEG 2000 (STIR) and JPEG-LS (T1) decoded by the wasm codecs in the worker.
    logs: list[str] = []
    page = open_case(browser, base, "case=codecs", logs)
    ds = page.evaluate("({...document.body.dataset})")
    check(
        ds.get("viewerReady") == "1" and "viewerError" not in ds,
        "codecs: JPEG 2000 + JPEG-LS series load",
        ds,
    )
    if ds.get("viewerReady") == "1":
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / "codecs.png"))
        for k in ("stir", "t1"):
            stats = image_stats(page.locator(f"#viewport-{k}").screenshot())
            check(
                stats["bright_fraction"] > 0.2,
                f"codecs: {k} decoded and shown",
                f"{stats['bright_fraction']:.2f}",
            )
        page.evaluate("iimViewer.setSlice('stir', 12)")
        check(settled(page), "codecs: scrolling decodes further slices", state(page)["stir"])
    csp = [
        line for line in logs if "Content Security Policy" in line or line.startswith("pageerror")
    ]
    check(not csp, "codecs: no CSP violation (script-src 'self' 'wasm-unsafe-eval')", csp[:3])
    page.close()

    # Sync by sliceLocation, then by index.
    for case, mode in (("sliceloc", "sliceLocation"), ("noloc", "index")):
        page = open_case(browser, base, f"case={case}", [])
        modes = page.evaluate("iimViewer.syncModes()")
        page.evaluate("iimViewer.setSlice('stir', 9)")
        st = state(page)
        exp = (
            nearest(info["t1"]["sliceLocations"], info["stir"]["sliceLocations"][9])
            if mode == "sliceLocation"
            else 9
        )
        check(
            modes.get("stir->t1") == mode and st["t1"]["index"] == exp,
            f"{case}: sync by {mode}",
            f"{modes} T1 {st['t1']['index']} (expected {exp})",
        )
        page.close()

    # Load errors are shown, never silent.
    for case, needle in (("error", "404"), ("nocookie", "403")):
        page = open_case(browser, base, f"case={case}", [])
        err = page.evaluate("document.body.dataset.viewerError || ''")
        ov = page.locator('.viewport-overlay[data-for="t1"]').inner_text()
        check(
            needle in err and needle in ov and page.evaluate("!document.body.dataset.viewerReady"),
            f"{case}: viewerError set and shown in the overlay",
            f"{err!r} / overlay {ov!r}",
        )
        if case == "error":
            page.screenshot(path=str(shots / "error.png"))
        page.close()

    # Without 'wasm-unsafe-eval' in the CSP the codecs cannot start: shown, not silent.
    page = open_case(browser, base, "case=codecs&csp=nowasm", [])
    err = page.evaluate("document.body.dataset.viewerError || ''")
    check(
        "Content Security" in err,
        "CSP without 'wasm-unsafe-eval': compressed images fail with a visible error",
        err[:120],
    )
    page.close()

    # Loaded under a hashed name (as ManifestStaticFilesStorage serves it).
    page = open_case(browser, base, "case=codecs&hashed=1", [])
    check(
        page.evaluate("document.body.dataset.viewerReady") == "1",
        "hashed reader.<hash>.js still finds its worker, chunks and wasm",
    )
    page.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", default=None, help="where to write screenshots")
    ap.add_argument("--data", default=None, help="DICOM data dir (generated if missing)")
    args = ap.parse_args()
    if not (serve.STATIC / "reader.js").exists():
        print("FAIL static/reader/reader.js missing: run `npm run build` first")
        return 1
    tmp = tempfile.TemporaryDirectory(prefix="iim-reader-harness-")
    shots = Path(args.shots or tmp.name)
    shots.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else Path(tmp.name) / "data"
    server = serve.start_in_thread(0, data)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    info = json.loads((data / "series.json").read_text())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                main_case(browser, base, info, shots)
                wholebody_case(browser, base, info, shots)
                page_case(browser, base, info, shots)
                other_cases(browser, base, info, shots)
            finally:
                browser.close()
    except Exception as exc:  # a crash is a failure, with its reason
        check(False, "harness ran to the end", repr(exc))
    finally:
        server.shutdown()
    passed = sum(1 for ok, _, _ in results if ok)
    failed = len(results) - passed
    print(f"screenshots in {shots}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
