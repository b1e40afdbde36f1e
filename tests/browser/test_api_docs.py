"""The API's documentation page in a real browser: Swagger UI, from the package's static files,
lists the operations of the schema under the project's Content-Security-Policy."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]


def test_a_partner_developer_reads_the_api_documentation(page, served_app):
    # No account: the schema is public, and so is its documentation.
    page.goto(f"{served_app.url}/")
    page.goto(f"{served_app.url}/api/docs/")
    assert page.get_by_role("heading", name="Documentation de l'API", level=1).is_visible()
    # Operations of both APIs, drawn by Swagger UI from /api/schema/?format=json.
    operation = page.locator(".opblock-summary-path", has_text="/api/v1/dealpoints/{id}/status/")
    operation.first.wait_for(timeout=20_000)
    assert page.locator(".opblock-summary-path", has_text="/api/public/v1/reports").count() >= 1
    # Nothing refused by the Content-Security-Policy, no script error.
    assert page.console_errors == []


def test_the_footer_links_to_the_api_documentation(page, served_app):
    page.goto(f"{served_app.url}/comptes/connexion/")
    page.get_by_role("link", name="Documentation de l'API").click()
    page.wait_for_url(f"{served_app.url}/api/docs/")
