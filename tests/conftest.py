"""Fixtures shared by the browser and the server-side anonymity tests: one real server per test
worker (`served_app`), Playwright's browser and page."""

from tests.browser.server import browser, page, served_app  # noqa: F401
