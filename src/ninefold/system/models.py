"""Platform-wide state: secrets generated once and shared by every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ninefold.db.base import Base


class AppSecret(Base):
    """A named secret (for example the key that signs acknowledge links), made on first use.

    Kept in the database so that every replica signs and verifies with the same key without
    configuration; ``NINEFOLD_SECRET_KEY`` overrides it.
    """

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
