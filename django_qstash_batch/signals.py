"""The app's own signals: connect to them to react to what dispatching did.

Both are sent by the process that dispatched, after the rows they describe are
committed, so a receiver can read them back from the database.
"""

from __future__ import annotations

from django.dispatch import Signal

#: Sent when a batch reaches its final status: ``sent``, ``partial`` or ``failed``.
#:
#: ``sender`` is the :class:`~django_qstash_batch.models.Batch` class; keyword
#: arguments:
#:
#: - ``batch``: the ``Batch`` instance, freshly read, with its final status and
#:   counters (``accepted_count``, ``failed_count``, ``message_count``);
#: - ``status``: the final status, a ``BatchStatus`` value.
batch_dispatched = Signal()

#: Sent when messages fail for good: QStash refused them, or they ran out of
#: attempts. Sent once per group of messages that failed together (one request, or
#: the rest of a batch), not once per message, so a large failure costs one call.
#:
#: ``sender`` is the :class:`~django_qstash_batch.models.Message` class; keyword
#: arguments:
#:
#: - ``batch_id``: the ``UUID`` of their batch;
#: - ``failures``: a list of ``(message_id, error)`` pairs, the message's ``UUID`` and
#:   the error text stored on it.
message_failed = Signal()
