"""The API documentation page (/api/docs/): public like the schema it shows, in French where the
project writes, Swagger UI from the package's static files, nothing inline for the
Content-Security-Policy to refuse."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_anyone_opens_the_api_documentation(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    page = response.content.decode()
    assert "<title>Documentation de l&#x27;API – Cartostup</title>" in page
    assert 'data-schema-url="/api/schema/?format=json"' in page
    # Both APIs and how a session client writes (the CSRF header) are explained.
    for text in ("/api/v1/", "/api/public/v1/", "X-CSRFToken", '{"detail": "…", "code": "…"}'):
        assert text in page, text


def test_the_documentation_uses_the_schema_in_json(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "API Cartostup"
    assert "/api/public/v1/reports" in schema["paths"]


def test_the_schema_is_generated_once_per_language_and_format(client, monkeypatch):
    """Generating and writing the schema took 0.7 s at each request of a public address: it is
    kept per language and format, and the same bytes are served. A version or an unknown
    language (any string is taken) is answered without being kept."""
    from drf_spectacular.generators import SchemaGenerator

    from cartostup.core.docs_views import SchemaView

    SchemaView._kept.clear()
    generated = []
    original = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        generated.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    first = client.get("/api/schema/?format=json")
    again = client.get("/api/schema/?format=json")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first["Content-Type"] == again["Content-Type"] == "application/vnd.oai.openapi+json"
    assert len(generated) == 1
    yaml = client.get("/api/schema/")
    assert yaml.status_code == 200 and yaml.content.startswith(b"openapi: ")
    assert "yaml" in yaml["Content-Disposition"]
    english = client.get("/api/schema/?format=json&lang=en")
    assert english.json()["paths"] and english.content != first.content
    assert len(generated) == 3
    assert len(SchemaView._kept) == 3
    for query in ("?format=json&lang=zz", "?format=json&version=9"):
        assert client.get(f"/api/schema/{query}").status_code == 200
    assert len(generated) == 5
    assert len(SchemaView._kept) == 3


def test_swagger_ui_comes_from_the_package_and_nothing_is_inline(client):
    response = client.get("/api/docs/")
    page = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "unsafe" not in policy
    found_nonce = re.search(r"'nonce-([^']+)'", policy)
    assert found_nonce is not None
    nonce = found_nonce.group(1)
    sources = re.findall(r'<script src="([^"]+)"', page)
    static = [src.removeprefix(settings.STATIC_URL) for src in sources]
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in static
    assert "core/api_docs.js" in static
    for path in static:
        found = finders.find(path)
        assert found and Path(found).is_file(), path
    # Every script without a source carries the page's nonce (the design system's own).
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page):
        assert f'nonce="{nonce}"' in tag, tag
    assert "style=" not in page and "<style" not in page
    assert "cdn" not in page.lower() and "https://" not in page


def test_the_documentation_page_only_reads(client):
    assert client.head("/api/docs/").status_code == 200
    assert client.post("/api/docs/").status_code == 405


def test_the_staff_footer_links_to_the_documentation(client_for):
    page = client_for("cross13_analyst").get("/").content.decode()
    assert 'href="/api/docs/"' in page


def _schema_texts(node, path=""):
    """Every description and summary of the schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"description", "summary", "title"} and isinstance(value, str):
                yield f"{path}/{key}", value
            else:
                yield from _schema_texts(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schema_texts(value, f"{path}/{index}")


def _project_docstrings():
    """The opening words of every class docstring of the project (code is written in
    English; the schema is read by partners in French)."""
    import importlib
    import inspect
    import pkgutil

    import cartostup

    found = set()
    for module_info in pkgutil.walk_packages(cartostup.__path__, "cartostup."):
        name = module_info.name
        if ".tests" in name or ".migrations" in name or name.endswith(".demo"):
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            doc = cls.__dict__.get("__doc__")
            if cls.__module__ == name and doc:
                words = " ".join(doc.split())
                found.add(words[:50])
    return found


def test_the_schema_tells_no_internal_english_note(client):
    """A view or serializer without a description of its own inherited its base class's
    docstring, an English note for developers (« JSON bodies only… », « Base of every
    serializer… »), in the partners' documentation."""
    schema = client.get("/api/schema/?format=json").json()
    docstrings = _project_docstrings()
    assert docstrings
    leaks = [
        (where, text[:80])
        for where, text in _schema_texts(schema)
        if any(doc in " ".join(text.split()) for doc in docstrings)
        or re.search(r"\b(the|is|are|of every)\b", text)
    ]
    assert leaks == [], "\n".join(map(str, leaks))


def test_the_schema_is_read_whatever_token_comes_with_it(client):
    """Public: a client reloading it with its expired token was refused (401)."""
    response = client.get(
        "/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer expired-or-unknown"
    )
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "API Cartostup"


def test_every_operation_documents_its_400_and_no_api_address_answers_options(client_for):
    """An API review: a point's page answered 400 to an unknown query parameter (as every
    operation does) where its schema listed no 400; the map layers answered OPTIONS with
    REST framework's metadata (class names, parsers the schema does not document) where the
    deal points' addresses refused it (405)."""
    client = client_for("cross13_analyst")
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 20
    assert [(path, method) for path, method, op in operations if "400" not in op["responses"]] == []
    for path in [*schema["paths"], "/api/schema/"]:
        if "{" in path:
            continue
        answered = client.options(path)
        assert answered.status_code == 405, (path, answered.status_code)
        assert "OPTIONS" not in (answered.get("Allow") or "")
