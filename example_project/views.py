"""Receiver views of the example project: where the demo's messages are delivered.

Each view checks ``Upstash-Signature`` with the app's signing keys, as a real
receiver must, and answers 200 so QStash (or the emulator) records a delivery.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from django_qstash_batch.conf import conf
from django_qstash_batch.signing import SignatureError, verify

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
def receive_hook(request: HttpRequest, name: str) -> HttpResponse:
    """Accept a signed delivery for the hook ``name``; refuse an unsigned one."""
    signature = request.headers.get("Upstash-Signature", "")
    try:
        verify(
            signature,
            request.body,
            url=request.build_absolute_uri(),
            current_key=conf.CURRENT_SIGNING_KEY or "",
            next_key=conf.NEXT_SIGNING_KEY,
        )
    except SignatureError as error:
        logger.warning("Refused a delivery to hook %s: %s", name, error)
        return JsonResponse({"error": "invalid signature"}, status=401)

    logger.info(
        "Hook %s received QStash message %s (%s bytes)",
        name,
        request.headers.get("Upstash-Message-Id", "?"),
        len(request.body),
    )
    return JsonResponse({"received": True})
