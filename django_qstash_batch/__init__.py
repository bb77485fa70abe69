"""Queue, send and track Upstash QStash batches from Django models.

The public API is re-exported here lazily, so that importing the package (as Django
does while it reads ``INSTALLED_APPS``) never touches the models before the app
registry is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "send_batch"]

if TYPE_CHECKING:
    from django_qstash_batch.queuing import send_batch


def __getattr__(name: str) -> Any:
    if name == "send_batch":
        from django_qstash_batch.queuing import send_batch

        return send_batch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
