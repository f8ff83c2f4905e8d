"""The runtime parts billing's routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from flint.billing.api import PlansDep
from flint.billing.service import Billing
from flint.web import part

BillingDep = Annotated[Billing, Depends(part(Billing))]

__all__ = ["BillingDep", "PlansDep"]
