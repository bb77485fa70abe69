"""The app's configuration: wires receivers and registers system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QStashBatchConfig(AppConfig):
    name = "django_qstash_batch"
    label = "qstash_batch"
    verbose_name = _("QStash batches")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_qstash_batch import (  # noqa: F401  (registering on import)
            checks,
            receivers,
        )
