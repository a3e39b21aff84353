"""Alembic migrations of the service store (a package, so non-editable installs ship them)."""
