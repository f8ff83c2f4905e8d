"""Helpers of the two-factor tests: an authenticator app (pyotp, as apps compute codes), a clock
to freeze, turning 2FA on through the API, and reading a QR code back from its SVG."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pyotp
import zxingcpp
from PIL import Image, ImageDraw

from tests.auth.helpers import V1, bearer, login
from tests.conftest import Account

TWO_FA = f"{V1}/2fa"
STEP = timedelta(seconds=30)


@dataclass
class Clock:
    """A frozen time the app reads instead of the wall clock (see the `clock` fixture)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, steps: int = 1) -> None:
        self.now += steps * STEP


@dataclass
class Authenticator:
    """What a user's phone holds after setup: the secret, and the recovery codes once on."""

    secret: str
    recovery_codes: list[str] = field(default_factory=list)

    def code(self, at: datetime, *, steps: int = 0) -> str:
        """The code shown at `at`, or `steps` 30-second steps before or after it."""
        return pyotp.TOTP(self.secret).at(at, counter_offset=steps)


async def set_up(client: httpx.AsyncClient, account: Account) -> Authenticator:
    response = await client.post(f"{TWO_FA}/setup", headers=account.headers)
    assert response.status_code == 200, response.text
    return Authenticator(response.json()["secret"])


async def turn_on(client: httpx.AsyncClient, account: Account, clock: Clock) -> Authenticator:
    """Set up and enable 2FA with the code of the clock's step, which is then spent."""
    app = await set_up(client, account)
    enabled = await enable(client, account, app.code(clock.now))
    assert enabled.status_code == 200, enabled.text
    app.recovery_codes = enabled.json()["recoveryCodes"]
    return app


async def enable(client: httpx.AsyncClient, account: Account, code: str) -> httpx.Response:
    return await client.post(f"{TWO_FA}/enable", json={"code": code}, headers=account.headers)


async def disable(
    client: httpx.AsyncClient, account: Account, *, password: str, code: str
) -> httpx.Response:
    body = {"password": password, "code": code}
    return await client.post(f"{TWO_FA}/disable", json=body, headers=account.headers)


async def status(client: httpx.AsyncClient, token: str) -> dict[str, object]:
    response = await client.get(TWO_FA, headers=bearer(token))
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


async def challenge(client: httpx.AsyncClient, account: Account) -> str:
    """Sign in with the password; answers the mfaToken."""
    response = await login(client, account.email, account.password)
    assert response.status_code == 200, response.text
    assert response.json()["mfaRequired"] is True, response.text
    token: str = response.json()["mfaToken"]
    return token


async def verify(client: httpx.AsyncClient, mfa_token: str, **answer: str) -> httpx.Response:
    """`answer` is `code=...` or `recovery_code=...`."""
    body = {"mfaToken": mfa_token, **answer}
    return await client.post(f"{TWO_FA}/verify", json=body)


PATH = re.compile(r'<path[^>]*\sd="([^"]+)"')
COMMAND = re.compile(r"([A-Za-z])([^A-Za-z]*)")


def dark_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules of a QR code drawn as one SVG path of horizontal runs (segno's form)."""
    found = PATH.search(svg)
    assert found, svg[:300]
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for command, arguments in COMMAND.findall(found.group(1)):
        numbers = [float(number) for number in arguments.split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            dark.update((int(x) + run, int(y)) for run in range(int(numbers[0])))
            x += numbers[0]
        else:
            raise AssertionError(f"unexpected path command {command!r}")
    return dark


def read_qr(svg: str, pixels_per_module: int = 8) -> str:
    """Draw the SVG's modules on a white image and decode it, as a phone's camera would."""
    dark = dark_modules(svg)
    size = max(max(x, y) for x, y in dark) + 5  # a quiet zone of four modules after the code
    image = Image.new("L", (size * pixels_per_module,) * 2, 255)
    draw = ImageDraw.Draw(image)
    for x, y in dark:
        box = (x * pixels_per_module, y * pixels_per_module)
        draw.rectangle((*box, box[0] + pixels_per_module - 1, box[1] + pixels_per_module - 1), 0)
    decoded = zxingcpp.read_barcode(image)
    assert decoded is not None, "no QR code found in the SVG"
    return decoded.text
