"""The public face of `flint.billing`: what other features may import (the modules behind it
are private to the feature, and `make lint` holds them to that).

A feature that creates something a plan limits calls ``await plans.enforce(session, user_id,
Limit.PORTFOLIOS)`` in the transaction that adds it (``plans`` from `PlansDep`), and the
composition root gives `Plans` the feature's counter.
"""

from typing import Annotated

from fastapi import Depends

from flint.billing.plans import Counter, Limit, PlanName, Plans
from flint.web import part

PlansDep = Annotated[Plans, Depends(part(Plans))]

__all__ = ["Counter", "Limit", "PlanName", "Plans", "PlansDep"]
