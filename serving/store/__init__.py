"""The service's store: SQLAlchemy 2 models, sessions, Alembic migrations run at start-up."""

from serving.store.db import Store, database_url
from serving.store.models import ApiKey, Decision, Deletion, Encounter, Job, JobItem

__all__ = ["ApiKey", "Decision", "Deletion", "Encounter", "Job", "JobItem", "Store", "database_url"]
