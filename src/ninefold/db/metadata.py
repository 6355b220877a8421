"""Import every domain's models so that Alembic sees the whole schema."""

from __future__ import annotations

import ninefold.catalog.models
import ninefold.identity.models
import ninefold.slo.models  # noqa: F401
from ninefold.db.base import Base

target_metadata = Base.metadata
