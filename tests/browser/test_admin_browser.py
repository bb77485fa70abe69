"""The admin driven in a real headless Chromium: what an operator actually does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from django_qstash_batch.models import Batch, Topic
from tests.conftest import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Flags that keep Chromium off the network this machine does not have.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; each test gets a fresh context."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    # Playwright runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def admin_url(live_server: Any) -> str:
    return f"{live_server.url}/admin"


@pytest.fixture
def page(browser: Any, admin_url: str, admin_user: User) -> Iterator[Any]:
    """A page logged in to the admin as a superuser."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{admin_url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    yield page
    context.close()


def test_an_operator_creates_a_topic_with_endpoints(page: Any, admin_url: str) -> None:
    page.goto(f"{admin_url}/qstash_batch/topic/add/")
    page.fill("#id_name", "billing")
    page.fill("#id_endpoints-0-url", "https://a.example/hook")
    page.fill("#id_endpoints-0-name", "primary")
    page.click("input[name=_save]")

    page.wait_for_selector(".messagelist .success")
    assert "billing" in page.inner_text("#result_list")
    topic = Topic.objects.get(name="billing")
    assert list(topic.endpoints.values_list("url", "name")) == [
        ("https://a.example/hook", "primary")
    ]


def test_an_operator_sees_the_field_error_for_a_bad_topic_name(
    page: Any, admin_url: str
) -> None:
    page.goto(f"{admin_url}/qstash_batch/topic/add/")
    page.fill("#id_name", "billing hooks")
    page.click("input[name=_save]")

    error = page.inner_text(".field-name .errorlist")
    assert "letters, digits" in error
    assert not Topic.objects.exists()


def test_an_operator_writes_a_batch_with_a_message_and_edits_it(
    page: Any, admin_url: str
) -> None:
    page.goto(f"{admin_url}/qstash_batch/batch/add/")
    page.fill("#id_label", "by hand")
    page.click("#messages-group .add-row a")
    page.fill("#id_messages-0-url", "https://example.com/hooks/a")
    page.fill("#id_messages-0-body", '{"order": 7}')
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    batch = Batch.objects.get(label="by hand")
    assert batch.message_count == 1
    assert batch.messages.get().body == '{"order": 7}'

    page.fill("#id_label", "by hand, edited")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert Batch.objects.get(pk=batch.pk).label == "by hand, edited"


@pytest.mark.parametrize("model", ["topic", "endpoint", "batch", "message", "delivery"])
def test_every_list_page_opens(page: Any, admin_url: str, model: str) -> None:
    response = page.goto(f"{admin_url}/qstash_batch/{model}/")

    assert response.status == 200
    assert page.query_selector("#changelist") is not None
