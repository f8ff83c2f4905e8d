"""Where Stripe sends users back to by default (`FLINT_STRIPE_SUCCESS_URL`, `_CANCEL_URL`,
`_PORTAL_RETURN_URL` unset), so a server without a frontend of its own still ends the trip on
a page that says what happened. Static: nothing from the request is echoed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

# Referrer-Policy, X-Frame-Options and nosniff come with every answer (flint.app.edge,
# the Edge middleware); the page's own policy replaces the default `frame-ancestors 'none'` one.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _page(title: str, text: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · Flint</title><style>body{{font:16px/1.5 system-ui,sans-serif;"
        "max-width:32rem;margin:4rem auto;padding:0 1rem}</style></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/billing/success", response_class=HTMLResponse)
async def success_page() -> HTMLResponse:
    return _page(
        "Thank you",
        "Your payment went through. Your premium plan starts as soon as Stripe tells Flint, "
        "usually within seconds. You can close this page.",
    )


@router.get("/billing/cancel", response_class=HTMLResponse)
async def cancel_page() -> HTMLResponse:
    return _page("Checkout cancelled", "Nothing was charged. You can close this page.")


@router.get("/billing/return", response_class=HTMLResponse)
async def return_page() -> HTMLResponse:
    return _page(
        "Billing",
        "Changes made in the billing portal reach Flint within seconds. You can close this page.",
    )
