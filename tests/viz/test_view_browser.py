"""The report and a video's view in a real headless Chromium, driven like a user would.

Open the served report sorted by inconsistency, click the first video (the one with the cut),
step the slider with the arrow key and with the mouse, check the pictures and figures change,
and that the pages wrote nothing to the console. The last screenshot is kept as a test
artefact: test-artifacts/report-view.png (ignored by git).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowpipe.bench.browser import Browser, chromium_path
from flowpipe.viz import write_report
from tests.viz.conftest import serving

CHROMIUM = chromium_path()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: `make install` installs Debian's chromium package (needs apt)",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
READY = "document.body.dataset.status === 'ok'"


def view_state(browser: Browser) -> dict:
    """The view's flow index, picture sources' lengths and figures text."""
    return browser.evaluate(
        "({k: document.body.dataset.k, slider: document.getElementById('slider').value,"
        " colour: document.getElementById('img-colour').src,"
        " mask: document.getElementById('img-mask').src,"
        " figures: document.getElementById('figures').innerText,"
        " bad: document.querySelectorAll('#figures td.bad').length})"
    )


def keep(png: bytes, tmp_path: Path) -> Path:
    """The screenshot under pytest's tmp dir and copied to test-artifacts/."""
    shot = tmp_path / "report-view.png"
    shot.write_bytes(png)
    ARTIFACTS.mkdir(exist_ok=True)
    kept = Path(shutil.copy(shot, ARTIFACTS / shot.name))
    print(f"\nscreenshot: {kept}")
    return kept


@needs_chromium
def test_open_a_view_from_the_report_and_step_through_it(
    checked_dataset: Path, tmp_path: Path
) -> None:
    with serving(checked_dataset, "--samples", "2") as url, Browser(CHROMIUM) as browser:
        browser.open(url + "#sort=inconsistent&desc=1")
        browser.wait_for(READY)
        assert browser.evaluate("document.querySelector('#suspect-pairs').innerText").count(
            "cut/cut_000"
        )
        browser.click("#videos tbody tr:first-child td.id a")
        browser.wait_for(f"location.pathname === '/view' && {READY}")
        assert browser.evaluate("document.getElementById('title').textContent") == "cut/cut_000"
        first = view_state(browser)
        assert first["k"] == first["slider"] == "1" and first["colour"].startswith("data:image")
        before = browser.screenshot()

        browser.press("ArrowRight", 39)
        browser.press("ArrowRight", 39)
        browser.press("ArrowRight", 39)
        browser.wait_for(f"document.body.dataset.k === '4' && {READY}")
        cut = view_state(browser)
        assert cut["slider"] == "4" and cut["colour"] != first["colour"]
        assert cut["mask"] != first["mask"] and cut["figures"] != first["figures"]
        assert cut["bad"] == 2 and first["bad"] == 0  # the cut pair: over the suspect rule
        after = browser.screenshot()
        assert after != before

        browser.press("Home", 36)
        browser.wait_for(f"document.body.dataset.k === '1' && {READY}")
        browser.click("#slider")  # the mouse on the track, halfway: flow 4 of 1..7
        browser.wait_for(f"document.body.dataset.k === '4' && {READY}")
        assert view_state(browser)["colour"] == cut["colour"]
        browser.press("End", 35)
        browser.wait_for(f"document.body.dataset.k === '7' && {READY}")
        assert view_state(browser)["slider"] == "7"
        browser.press("ArrowLeft", 37)
        browser.press("ArrowLeft", 37)
        browser.press("ArrowLeft", 37)
        browser.wait_for(f"document.body.dataset.k === '4' && {READY}")
        assert view_state(browser)["colour"] == cut["colour"]
        assert browser.problems() == []
        png = browser.screenshot()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert keep(png, tmp_path).stat().st_size == len(png)


@needs_chromium
def test_a_report_file_explains_how_to_get_views(checked_dataset: Path, tmp_path: Path) -> None:
    page = write_report(str(checked_dataset), tmp_path / "report.html", samples=1)
    with Browser(CHROMIUM) as browser:
        browser.open(page.as_uri())
        browser.wait_for(READY)
        assert not browser.evaluate("document.getElementById('notice').offsetHeight")
        browser.click("#videos tbody tr:first-child td.id a")
        browser.wait_for("document.getElementById('notice').offsetHeight > 0")
        notice = browser.evaluate("document.getElementById('notice').innerText")
        assert f"flowpipe viz serve {checked_dataset}" in notice
        assert browser.evaluate("location.protocol") == "file:"
        # Thumbnails enlarge on hover.
        browser.evaluate("window.scrollTo(0, 0)")
        box = browser.evaluate(
            "(() => { const i = document.querySelector('img.thumb');"
            " i.scrollIntoView({block: 'center'}); const r = i.getBoundingClientRect();"
            " return [r.left + 4, r.top + r.height / 2, r.width]; })()"
        )
        browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]})
        grown = browser.wait_for(
            f"document.querySelector('img.thumb').getBoundingClientRect().width > {2 * box[2]}",
            timeout=5,
        )
        assert grown < 5
        assert browser.problems() == []
