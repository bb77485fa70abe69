"""Small shims over differences between the supported Django versions."""

from __future__ import annotations

from typing import Any

import django
from django.db import models
from django.db.models import Q


def check_constraint(condition: Q, name: str) -> models.CheckConstraint:
    """A ``CheckConstraint`` spelled for the running Django (``check=`` before 5.1).

    Models and migrations both build the constraint through here, so the migration
    loads unchanged on every supported Django without a deprecation warning.
    """
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    arguments: dict[str, Any] = {keyword: condition}
    return models.CheckConstraint(name=name, **arguments)
