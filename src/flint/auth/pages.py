"""The page a password-reset email links to, so the link works without a separate frontend.

It is static: the token is read from the address by the page's own script and posted to
`/api/v1/auth/reset-password/confirm`; nothing from the request is echoed into the HTML.
A deployment with its own frontend points `FLINT_PUBLIC_URL` there instead.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

# Referrer-Policy, X-Frame-Options and nosniff come with every answer (flint.app.edge,
# the Edge middleware); the page's own policy replaces the default `frame-ancestors 'none'` one.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

RESET_PAGE = (files("flint.auth") / "reset_password.html").read_text(encoding="utf-8")


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_page() -> HTMLResponse:
    return HTMLResponse(RESET_PAGE, headers=PAGE_HEADERS)
