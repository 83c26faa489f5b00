"""Open a qc report in Debian's headless Chromium and do what a person does; print what happened as JSON.

    python browser.py PAGE [--screenshot PNG] [--sort COLUMN_TITLE]

Run in a child process by test_qc_browser.py and bench/qc_report.py (a browser that crashes or
hangs must fail a test, not the test run). Selenium drives ``/usr/bin/chromium`` through
``/usr/bin/chromedriver`` (Debian's chromium and chromium-driver): Selenium Manager, which
would download a browser, is never asked. The page is opened as ``file://``, as a user opens it.

Reports: the browser's console messages; the time from navigation to the page being usable
(its script ran: DOMContentLoaded, and to the load event, which waits for the thumbnails in
view); how long a sort and the "flagged only" switch take in the page; every thumbnail's natural width after
scrolling it into view (they are lazy-loaded); the files' order before and after sorting by a
column (twice: ascending, descending); the rows displayed with "flagged only" on and off; the
screenshot's size and its number of distinct colours (a blank page has one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start(width: int, height: int):  # noqa: ANN201 - selenium's type, imported here
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


ORDER = "return Array.from(document.querySelectorAll('#files tbody tr')).map(r => r.dataset.file);"
SHOWN = (
    "return Array.from(document.querySelectorAll('#files tbody tr'))"
    ".filter(r => r.offsetParent !== null).map(r => r.dataset.file);"
)
TIMES = (
    "const n = performance.getEntriesByType('navigation')[0];"
    "return {interactive: n.domInteractive, content: n.domContentLoadedEventEnd, load: n.loadEventEnd};"
)


def thumbnails(driver) -> list[int]:  # noqa: ANN001
    """Scroll each thumbnail into view, wait for it (bounded), return every natural width."""
    widths = []
    count = driver.execute_script("return document.querySelectorAll('img.thumb').length;")
    for index in range(count):
        driver.execute_script(f"document.querySelectorAll('img.thumb')[{index}].scrollIntoView();")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done = driver.execute_script(
                f"const i = document.querySelectorAll('img.thumb')[{index}];"
                "return i.complete && i.naturalWidth;"
            )
            if done:
                break
            time.sleep(0.02)
        widths.append(
            int(
                driver.execute_script(f"return document.querySelectorAll('img.thumb')[{index}].naturalWidth;")
            )
        )
    driver.execute_script("window.scrollTo(0, 0);")
    return widths


def click_heading(driver, title: str) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, "#files thead th button"):
        if " ".join(button.text.split()) == title:
            button.click()
            return
    raise LookupError(f"no column {title!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("page", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--sort", default="muscle cm²")
    parser.add_argument("--size", default="1280,900")
    parser.add_argument("--no-thumbnails", action="store_true", help="do not scroll through every thumbnail")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split(","))
    from selenium.webdriver.common.by import By

    driver = start(width, height)
    result: dict[str, object] = {}
    try:
        began = time.perf_counter()
        driver.get(args.page.resolve().as_uri())
        result["get_seconds"] = time.perf_counter() - began
        result["navigation_ms"] = driver.execute_script(TIMES)
        result["title"] = driver.title
        # In the page's own clock, with the layout the change causes: what a person waits for.
        result["sort_ms"] = driver.execute_script(
            "const t = performance.now(); document.querySelectorAll('#files thead th button')[1].click();"
            "document.body.offsetHeight; return performance.now() - t;"
        )  # by file name
        result["filter_ms"] = driver.execute_script(
            "const t = performance.now(); document.getElementById('flagged-only').click();"
            "document.body.offsetHeight; const d = performance.now() - t;"
            "document.getElementById('flagged-only').click(); return d;"
        )
        click_heading(driver, "#")  # back to the files' order (another column: ascending)
        # A first sort right after load: how long until the page answers a person.
        began = time.perf_counter()
        result["initial"] = driver.execute_script(ORDER)
        click_heading(driver, args.sort)
        result["ascending"] = driver.execute_script(ORDER)
        result["first_sort_seconds"] = time.perf_counter() - began
        click_heading(driver, args.sort)
        result["descending"] = driver.execute_script(ORDER)
        click_heading(driver, "#")
        if not args.no_thumbnails:
            result["thumbnail_widths"] = thumbnails(driver)
        if args.screenshot is not None:
            driver.save_screenshot(str(args.screenshot))
            from PIL import Image

            with Image.open(args.screenshot) as shot:
                result["screenshot"] = {
                    "size": list(shot.size),
                    "colors": len(shot.convert("RGB").getcolors(1 << 24) or []),
                }
        driver.find_element(By.ID, "flagged-only").click()
        result["flagged_only"] = driver.execute_script(SHOWN)
        driver.find_element(By.ID, "flagged-only").click()
        result["all_shown"] = driver.execute_script(SHOWN)
        result["console"] = driver.get_log("browser")
    finally:
        driver.quit()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
