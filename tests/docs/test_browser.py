"""A real browser renders /docs and /redoc from a real server with every other host unreachable.

Drives Debian's headless Chromium (`apt-get install chromium`): skipped without it, failed in CI.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import IN_CI
from tests.docs.test_offline_docs import parse

pytestmark = [pytest.mark.waits, pytest.mark.browser]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--enable-logging=stderr",  # the page's console messages, for the checks below
    "--v=0",
    "--virtual-time-budget=10000",
    # Offline: every host but the test server fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
LOADING_TAGS = {"script", "link", "img", "iframe", "source", "video", "audio", "embed", "object"}


@pytest.fixture(scope="session")
def chromium() -> str:
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if path:
        return path
    message = "the browser tests need Chromium: apt-get install chromium"
    if IN_CI:
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


@dataclass
class Rendered:
    dom: str
    """The page's DOM after its scripts ran, serialized."""
    requests: list[str]
    """Every URL the page itself asked for (not the browser's own background traffic)."""
    console: list[str]
    """The page's console messages."""


def render(chromium: str, url: str, scratch: Path) -> Rendered:
    scratch.mkdir(parents=True)
    netlog = scratch / "netlog.json"
    command = [
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={scratch / 'profile'}",
        f"--log-net-log={netlog}",
        "--dump-dom",
        url,
    ]
    browser = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        dom, errors = browser.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        pytest.fail(f"Chromium did not render {url} within 60 s")
    assert browser.returncode == 0, errors[-2000:]
    console = [line for line in errors.splitlines() if ":CONSOLE" in line]
    return Rendered(dom=dom, requests=page_requests(netlog, url), console=console)


def page_requests(netlog: Path, url: str) -> list[str]:
    """The URLs of the requests the page at `url` made, from Chromium's net log.

    A page's own requests name its origin as initiator; the browser's background traffic
    (updates, sign-in, autofill, dictionaries) is initiated by no origin.
    """
    log: dict[str, Any] = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    requests = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] != start_job or "url" not in params:
            continue
        if params.get("initiator") == origin:
            requests.append(params["url"])
    return requests


def loaded_urls(dom: str) -> list[str]:
    """What the rendered DOM makes the browser load (links a reader may click are not loads)."""
    return [value for tag, _, value in parse(dom).found if tag in LOADING_TAGS]


def assert_offline(page: Rendered, base: str) -> None:
    """The page asked only its own origin for anything, and no script failed."""
    assert page.requests, "the net log shows no requests from the page"
    assert [url for url in page.requests if not url.startswith(base + "/")] == []
    assert f"{base}/openapi.json" in page.requests
    external = [url for url in loaded_urls(page.dom) if url.startswith(("http:", "https:", "//"))]
    assert [url for url in external if not url.startswith(base + "/")] == []
    assert [line for line in page.console if "Uncaught" in line] == []
    blocked = [line for line in page.console if "Content Security Policy" in line]
    assert [line for line in blocked if f"'{base}/" in line] == []


def api_operations(base: str) -> list[tuple[str, dict[str, Any]]]:
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    return [
        (path, operation)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for operation in item.values()
    ]


def test_swagger_ui_renders_every_operation_with_no_other_host_reachable(
    chromium: str, live_server: str, tmp_path: Path
) -> None:
    page = render(chromium, f"{live_server}/docs", tmp_path / "docs")

    assert_offline(page, live_server)
    assert f"{live_server}/static/docs/swagger-ui-bundle.js" in page.requests
    assert "Failed to load API definition" not in page.dom
    assert 'class="btn authorize' in page.dom
    assert page.dom.count('class="opblock ') >= len(api_operations(live_server))
    for path, _ in api_operations(live_server):
        assert f'data-path="{path}"' in page.dom, path
    assert "/api/v1/auth/login" in page.dom
    assert "/api/v1/watchlist/add" in page.dom


def test_redoc_renders_every_operation_with_no_other_host_reachable(
    chromium: str, live_server: str, tmp_path: Path
) -> None:
    page = render(chromium, f"{live_server}/redoc", tmp_path / "redoc")

    assert_offline(page, live_server)
    assert f"{live_server}/static/docs/redoc.standalone.js" in page.requests
    text = html.unescape(page.dom)
    assert "Something went wrong" not in text
    assert "Flint API" in text
    for path, operation in api_operations(live_server):
        assert f"operation/{operation['operationId']}" in page.dom, path
        assert operation["summary"] in text, path


def test_the_api_swagger_page_renders_the_unversioned_operations_offline(
    chromium: str, live_server: str, tmp_path: Path
) -> None:
    page = render(chromium, f"{live_server}/api/docs", tmp_path / "api-docs")

    assert page.requests, "the net log shows no requests from the page"
    assert [url for url in page.requests if not url.startswith(live_server + "/")] == []
    assert f"{live_server}/api/openapi.json" in page.requests
    assert "Failed to load API definition" not in page.dom
    spec = httpx.get(f"{live_server}/api/openapi.json", timeout=10).json()
    assert len(spec["paths"]) > 50
    for path in spec["paths"]:
        assert f'data-path="{path}"' in page.dom, path
    assert 'data-path="/api/v1/' not in page.dom
