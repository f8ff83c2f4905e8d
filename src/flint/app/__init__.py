"""The composition root: the app (`main`), the command line (`cli`), one runtime build for every
kind of process (`runtime`), the worker's task modules and schedule (`worker`), every table
(`models`, for Alembic), the probes (`ops`) and the HTTP middleware. Only this package knows
every feature; see docs/architecture.md."""
