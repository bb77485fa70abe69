"""Defaults shared by the emulator, its pytest plugin and its management command.

The token and signing keys are the public test credentials built into Upstash's own
local development server, so code and settings written for that server work against
this emulator unchanged. They protect nothing and must never be used in production.
"""

from __future__ import annotations

#: Bearer token of the dev server's default user.
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="

#: Key the dev server signs deliveries with.
DEV_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"

#: The dev server's spare key, which becomes current on rotation.
DEV_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"

#: Port the dev server listens on unless told otherwise.
DEV_PORT = 8080

#: How long QStash remembers a deduplication id or content hash, in seconds.
DEDUPLICATION_WINDOW = 600

#: Retries a message gets when ``Upstash-Retries`` is not given.
DEFAULT_RETRIES = 3

#: Highest ``Upstash-Retries`` the emulated plan allows; more is answered with 412.
DEFAULT_MAX_RETRIES = 5
