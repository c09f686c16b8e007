"""The status page in a real headless Chromium (Debian's chromium + chromium-driver, via selenium)
against a real `skillz-engine serve --transport http` process: sign in with the token form, then
watch a tool appear and a broken manifest's diagnostic show up without reloading the page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.mcp.test_http import ECHO
from tests.mcp_helpers import write

RUN_CLI = "import sys; from skillz_engine.cli.main import main; sys.exit(main(sys.argv[1:]))"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "status-page.png"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "tree"
    write(root / "tools" / "echo" / "manifest.yaml", ECHO.format(description="Echo text back"))
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "serve", str(root), "--transport", "http", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = root / ".skillz" / "server.json"
    deadline = time.monotonic() + 30
    while not found.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    url = json.loads(found.read_text())["url"].removesuffix("/mcp")
    try:
        yield url, root
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_page_shows_changes_live(server: tuple[str, Path]) -> None:
    chromium = require("chromium", "the status page is tested in a real browser")
    driver_path = require("chromedriver", "selenium drives Debian's chromium through it")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, root = server
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(url + "/")
        assert "Sign in" in driver.page_source
        field = driver.find_element(By.NAME, "token")
        field.send_keys((root / ".skillz" / "agent-token").read_text().strip())
        field.submit()
        wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
        assert "echo" in driver.find_element(By.ID, "entries").text
        cookie = driver.get_cookie("skillz_status")
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        write(root / "tools" / "greet" / "manifest.yaml", ECHO.format(description="Greets"))
        wait.until(lambda d: "greet" in d.find_element(By.ID, "tools").text)
        (root / "tools" / "echo" / "manifest.yaml").write_text("kind: command\ndescription: [oops\n")
        wait.until(lambda d: "SKZ001" in d.find_element(By.ID, "diagnostics").text)
        assert "tools/echo/manifest.yaml:3:1" in driver.find_element(By.ID, "diagnostics").text
        assert "stale" in driver.find_element(By.ID, "entries").text
        if os.environ.get("SKILLZ_SCREENSHOT"):  # refresh the picture in docs/
            driver.save_screenshot(str(SCREENSHOT))
    finally:
        driver.quit()
