"""The public face of `flint.portfolio`: what other features may import (the modules behind it
are private to the feature, and `make lint` holds them to that)."""

from flint.portfolio.charts import MEDIA_TYPES as CHART_MEDIA_TYPES
from flint.portfolio.charts import Format as ChartFormat
from flint.portfolio.charts import Kind as ChartKind
from flint.portfolio.charts import draw as draw_chart
from flint.portfolio.charts import marks_of as chart_marks
from flint.portfolio.figures import figures as performance_figures
from flint.portfolio.following import Followers
from flint.portfolio.imports.flint_csv import render as ledger_csv
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.pages import LedgerRow
from flint.portfolio.pages import at_once as ledger
from flint.portfolio.performance import Inputs, Window, inputs
from flint.portfolio.performance_schemas import Performance
from flint.portfolio.service import get as get_portfolio
from flint.portfolio.valuation import Entry

__all__ = [
    "CHART_MEDIA_TYPES",
    "ChartFormat",
    "ChartKind",
    "Entry",
    "Followers",
    "Inputs",
    "LedgerRow",
    "Performance",
    "Portfolio",
    "PortfolioTransaction",
    "Window",
    "chart_marks",
    "draw_chart",
    "get_portfolio",
    "inputs",
    "ledger",
    "ledger_csv",
    "performance_figures",
]
