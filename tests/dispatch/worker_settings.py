"""Settings for worker processes the tests start: the example project's, pointed at
the test database and the test's emulator through environment variables."""

from __future__ import annotations

import json
import os

from example_project.settings import *  # noqa: F403
from example_project.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["QSTASH_TEST_DATABASE_NAME"]
QSTASH_BATCH = json.loads(os.environ["QSTASH_TEST_SETTINGS"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_qstash_batch": {"handlers": ["console"], "level": "INFO"}},
}
