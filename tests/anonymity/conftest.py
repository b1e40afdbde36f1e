"""The real server of the browser tests (`served_app`) and Playwright's fixtures, for the
server-side canary test and the third-party request check."""

from tests.browser.conftest import browser, page, served_app  # noqa: F401
