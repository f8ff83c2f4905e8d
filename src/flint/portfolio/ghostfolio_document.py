"""The Ghostfolio file's schema in Flint's documents (the import's request body, the export's
answer), with the base currencies every market has (the packaged universe's): computed once,
as the routers are made (`flint.portfolio.schemas` cannot: the currencies read its models)."""

from __future__ import annotations

from flint.portfolio.currencies import packaged_bases
from flint.portfolio.ghostfolio_schemas import file_schema

FILE_SCHEMA = file_schema(packaged_bases())
