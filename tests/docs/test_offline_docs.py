"""/docs and /redoc work without the internet: every asset they use is served by Flint itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

BASE = "http://testserver"
MIN_BYTES = {".js": 10_000, ".css": 10_000, ".png": 500}
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """Collects every URL an HTML page makes the browser load, as (tag, attribute, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and name in {"src", "href", "spec-url", "srcset", "data"}:
                self.found.append((tag, name, value))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def parse(html: str) -> References:
    parser = References()
    parser.feed(html)
    parser.close()
    return parser


def is_same_origin(url: str, page: str) -> bool:
    """True for relative URLs and ones on the page's own scheme, host and port."""
    target, origin = urlsplit(urljoin(page, url)), urlsplit(page)
    if target.scheme == "data":
        return True
    return (target.scheme, target.netloc) == (origin.scheme, origin.netloc)


def test_same_origin_check_rejects_other_hosts_and_protocol_relative_urls() -> None:
    page = f"{BASE}/docs"
    assert is_same_origin("/static/docs/swagger-ui.css", page)
    assert is_same_origin("favicon.png", page)
    assert is_same_origin(f"{BASE}/openapi.json", page)
    assert not is_same_origin("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css", page)
    assert not is_same_origin("//cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js", page)
    assert not is_same_origin("http://testserver:8080/x.js", page)


async def fetch_page(client: httpx.AsyncClient, path: str) -> References:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text)


async def assert_asset_served(client: httpx.AsyncClient, url: str) -> bytes:
    response = await client.get(url)
    assert response.status_code == 200, url
    suffix = "." + urlsplit(url).path.rsplit(".", 1)[-1]
    if suffix in CONTENT_TYPES:
        assert CONTENT_TYPES[suffix] in response.headers["content-type"], url
        assert len(response.content) > MIN_BYTES[suffix], f"{url}: {len(response.content)} bytes"
    return response.content


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/api/docs", "/api/redoc"])
async def test_docs_page_references_only_its_own_origin(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await fetch_page(client, path)
    assert page.found, f"{path} references no assets"
    external = [ref for ref in page.found if not is_same_origin(ref[2], BASE + path)]
    assert external == []
    inline_urls = re.findall(r"https?://[^\s'\"]+|//[a-z0-9.-]+\.[a-z]{2,}/", "".join(page.scripts))
    assert inline_urls == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_every_asset_a_docs_page_references_is_served(
    client: httpx.AsyncClient, path: str, expected: set[str]
) -> None:
    page = await fetch_page(client, path)
    urls = {
        urljoin(BASE + path, value) for tag, _, value in page.found if tag in {"script", "link"}
    }
    assert {url.rsplit("/", 1)[-1] for url in urls} >= expected
    for url in sorted(urls):
        body = await assert_asset_served(client, url)
        if url.endswith(".css"):
            for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", body.decode()):
                assert is_same_origin(ref, url), f"{url} loads {ref[:80]}"


async def test_docs_pages_load_the_openapi_document_from_their_own_origin(
    client: httpx.AsyncClient,
) -> None:
    swagger = await fetch_page(client, "/docs")
    spec_urls = re.findall(r"\burl:\s*'([^']+)'", "".join(swagger.scripts))
    redoc = await fetch_page(client, "/redoc")
    spec_urls += [value for tag, name, value in redoc.found if name == "spec-url"]
    assert spec_urls == ["/openapi.json", "/openapi.json"]
    response = await client.get(spec_urls[0])
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Flint API"


@pytest.mark.parametrize(
    "path", ["/docs", "/redoc", "/docs/oauth2-redirect", "/api/docs", "/api/redoc"]
)
async def test_docs_pages_forbid_the_browser_to_load_from_other_origins(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    policy = response.headers["content-security-policy"]
    directives = {
        name: sources.split()
        for name, _, sources in (part.strip().partition(" ") for part in policy.split(";"))
    }
    assert directives["default-src"] == ["'self'"]
    allowed = {"'self'", "'unsafe-inline'", "'none'", "data:", "blob:"}
    for name, sources in directives.items():
        assert set(sources) <= allowed, f"{name} {sources}"


async def test_api_responses_carry_no_docs_policy(client: httpx.AsyncClient) -> None:
    """Only the policy every answer has (no framing), not the docs pages' own."""
    for path in ("/openapi.json", "/healthz", "/static/docs/swagger-ui.css"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'", path


async def test_swagger_ui_uses_the_served_oauth2_redirect_page(client: httpx.AsyncClient) -> None:
    swagger = await fetch_page(client, "/docs")
    assert "window.location.origin + '/docs/oauth2-redirect'" in "".join(swagger.scripts)
    redirect = await fetch_page(client, "/docs/oauth2-redirect")
    assert redirect.found == []
    script = "".join(redirect.scripts)
    assert "window.opener.swaggerUIRedirectOauth2" in script
    assert "window.close()" in script


async def test_swagger_ui_keeps_authorization_and_shows_request_durations(
    client: httpx.AsyncClient,
) -> None:
    script = "".join((await fetch_page(client, "/docs")).scripts)
    assert '"persistAuthorization": true' in script
    assert '"displayRequestDuration": true' in script


async def test_the_root_sends_a_browser_to_the_docs(client: httpx.AsyncClient) -> None:
    """A newcomer typing the server's address lands on the docs, not on a 404."""
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"
    followed = await client.get("/", follow_redirects=True)
    assert followed.status_code == 200
    assert "swagger-ui" in followed.text
    assert "/" not in (await client.get("/openapi.json")).json()["paths"]
