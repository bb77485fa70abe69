"""A runnable host project for the demo and the test suite.

The Celery app is loaded with the project, so that tasks queued by the web process
(the dispatch kick after a batch is queued) reach the configured broker.
"""

from example_project.celery import app as celery_app

__all__ = ["celery_app"]
