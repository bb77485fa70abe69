"""The models and the migrations describe the same schema."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration() -> None:
    output = StringIO()

    call_command(
        "makemigrations", "qstash_batch", "--check", "--dry-run", stdout=output
    )

    assert "No changes detected" in output.getvalue()
