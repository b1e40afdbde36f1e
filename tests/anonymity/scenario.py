"""One visit of every public page and endpoint, with canaries in every header, through a
`Transport`: Django's test client (in process) or HTTP to a real server.

The scenario checks the answers it gets (a receipt, 201, 400, 404, 429...) so that a canary
search afterwards is known to have followed every path: the web form (GET, POST with a photo,
invalid, without CSRF token, cross-site), the follow-up pages (status, the analyst's question,
an answer), prevention, the commune search, the language switch, the public API (challenge,
JSON and multipart reports, follow-up, messages), invalid input, malformed JSON, a wrong content
type, unknown paths, a wrong method, and rate limits (wrong receipts, challenges).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Protocol

from .canaries import Canaries

RECEIPT = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){5}\b")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
API = "/api/public/v1"
# Marseille 14e: a pin where reports are expected.
PIN = ("43.3452", "5.3949")

Fields = list[tuple[str, str]]
Files = dict[str, tuple[str, bytes, str]]


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]
    set_cookies: list[str]


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        fields: Fields | None = None,
        files: Files | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer: ...


@dataclass
class Visit:
    """What the scenario did and got: each step's label and status, receipts, uploads."""

    steps: list[tuple[str, int]] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    uploads: list[bytes] = field(default_factory=list)

    def statuses(self) -> set[int]:
        return {status for _label, status in self.steps}


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def receipt_in(html: str) -> str:
    match = RECEIPT.search(html)
    assert match, html[:2000]
    return match.group(0)


def _csrf(answer: Answer) -> str:
    return csrf_token(answer.text)


def _receipt(answer: Answer) -> str:
    return receipt_in(answer.text)


def _solve(challenge: str, difficulty: int) -> str:
    from cartostup.reports.pow import pow_solve

    return pow_solve(challenge, difficulty)


def run(
    transport: Transport,
    canaries: Canaries,
    *,
    ask_question: Callable[[str], None],
    force_server_error: Callable[[], Any] | None = None,
    cross_site_https: Callable[[Fields], Answer] | None = None,
) -> Visit:
    """Visit everything; `ask_question(receipt)` makes an analyst ask the reporter a question;
    `force_server_error()` returns a context manager under which the follow-up fails with an
    unexpected exception (in process only); `cross_site_https(fields)` posts the form over HTTPS
    with the canary Referer (in process only: a real test server speaks plain HTTP)."""
    visit = Visit()

    def step(label: str, answer: Answer, *expected: int) -> Answer:
        visit.steps.append((label, answer.status))
        assert answer.status in expected, f"{label}: {answer.status} {answer.text[:1500]}"
        return answer

    def challenge() -> tuple[str, str]:
        answer = step("GET challenge", transport.request("GET", f"{API}/challenge"), 200)
        data = json.loads(answer.text)
        return data["challenge"], _solve(data["challenge"], data["difficulty"])

    def report_fields(csrf: str, *, valid: bool = True) -> Fields:
        value, nonce = challenge()
        fields: Fields = [
            ("csrfmiddlewaretoken", csrf),
            ("challenge", value),
            ("nonce", nonce),
            ("latitude", PIN[0]),
            ("longitude", PIN[1]),
            ("precision", "building"),
            ("place_label", "Bâtiment C"),
            ("people_count", "3-5"),
            ("products", "cannabis"),
            ("days", "fri"),
            ("times_of_day", "evening"),
            ("description", "Vente au pied du bâtiment, le soir."),
        ]
        if valid:
            fields += [("activities", "selling"), ("activities", "lookouts")]
        return fields

    # --- the web form ------------------------------------------------------------------------
    form = step("GET /signaler/", transport.request("GET", "/signaler/"), 200)
    csrf = _csrf(form)
    png = canaries.png
    visit.uploads.append(png)
    answer = step(
        "POST /signaler/ with a PNG photo",
        transport.request(
            "POST",
            "/signaler/",
            fields=report_fields(csrf),
            files={"photo": ("IMG_canary.png", png, "image/png")},
        ),
        200,
    )
    visit.receipts.append(_receipt(answer))
    step(
        "POST /signaler/ invalid (no activity)",
        transport.request("POST", "/signaler/", fields=report_fields(csrf, valid=False)),
        200,
        400,
    )
    no_token = [
        (name, value) for name, value in report_fields(csrf) if name != "csrfmiddlewaretoken"
    ]
    step(
        "POST /signaler/ without CSRF token",
        transport.request("POST", "/signaler/", fields=no_token),
        403,
    )
    step(
        "POST /signaler/ from a foreign Origin",
        transport.request(
            "POST", "/signaler/", fields=report_fields(csrf), headers={"Origin": canaries.origin()}
        ),
        403,
    )
    if cross_site_https is not None:
        step(
            "POST /signaler/ over HTTPS, foreign Referer",
            cross_site_https(report_fields(csrf)),
            403,
        )

    # --- follow-up pages ---------------------------------------------------------------------
    receipt = visit.receipts[0]
    page = step("GET /suivi/", transport.request("GET", "/suivi/"), 200)
    csrf = _csrf(page)
    step(
        "POST /suivi/",
        transport.request(
            "POST", "/suivi/", fields=[("csrfmiddlewaretoken", csrf), ("receipt", receipt)]
        ),
        200,
    )
    ask_question(receipt)
    page = step(
        "POST /suivi/ (question pending)",
        transport.request(
            "POST", "/suivi/", fields=[("csrfmiddlewaretoken", csrf), ("receipt", receipt)]
        ),
        200,
    )
    assert "Quel bâtiment" in page.text, page.text[:2000]
    step(
        "POST /suivi/reponse/",
        transport.request(
            "POST",
            "/suivi/reponse/",
            fields=[
                ("csrfmiddlewaretoken", _csrf(page)),
                ("receipt", receipt),
                ("text", "Le bâtiment C, côté parking."),
            ],
        ),
        303,
    )
    sent = step("GET /suivi/reponse/", transport.request("GET", "/suivi/reponse/"), 200)
    assert "Votre réponse a été envoyée." in sent.text, sent.text[:2000]

    # --- other public pages ------------------------------------------------------------------
    step("GET /prevention/", transport.request("GET", "/prevention/"), 200)
    step("HEAD /prevention/", transport.request("HEAD", "/prevention/"), 200)
    step("GET /signaler/communes", transport.request("GET", "/signaler/communes?q=Marseille"), 200)
    step(
        "POST /i18n/setlang/ (English)",
        transport.request(
            "POST",
            "/i18n/setlang/",
            fields=[("csrfmiddlewaretoken", csrf), ("language", "en"), ("next", "/prevention/")],
        ),
        302,
    )
    step("GET /prevention/ in English", transport.request("GET", "/prevention/"), 200)
    step(
        "POST /i18n/setlang/ (French)",
        transport.request(
            "POST",
            "/i18n/setlang/",
            fields=[("csrfmiddlewaretoken", csrf), ("language", "fr"), ("next", "/signaler/")],
        ),
        302,
    )

    # --- the public API ----------------------------------------------------------------------
    value, nonce = challenge()
    report = {
        "challenge": value,
        "nonce": nonce,
        "latitude": float(PIN[0]),
        "longitude": float(PIN[1]),
        "precision": "stairwell",
        "activities": ["selling"],
        "products": ["cocaine"],
        "description": "Deux guetteurs à l'entrée.",
    }
    answer = step(
        "POST reports (JSON)", transport.request("POST", f"{API}/reports", json_body=report), 201
    )
    visit.receipts.append(json.loads(answer.text)["receipt"])
    value, nonce = challenge()
    jpeg = canaries.jpeg
    visit.uploads.append(jpeg)
    answer = step(
        "POST reports (multipart, JPEG photo)",
        transport.request(
            "POST",
            f"{API}/reports",
            fields=[
                ("challenge", value),
                ("nonce", nonce),
                ("latitude", PIN[0]),
                ("longitude", PIN[1]),
                ("precision", "building"),
                ("activities", "storage"),
            ],
            files={"photo": ("DSC_0001.JPG", jpeg, "image/jpeg")},
        ),
        201,
    )
    visit.receipts.append(json.loads(answer.text)["receipt"])
    api_receipt = visit.receipts[1]
    step(
        "POST followup",
        transport.request("POST", f"{API}/followup", json_body={"receipt": api_receipt}),
        200,
    )
    step(
        "POST followup/messages",
        transport.request(
            "POST",
            f"{API}/followup/messages",
            json_body={"receipt": api_receipt, "text": "Ils sont là tous les soirs."},
        ),
        201,
    )
    step(
        "POST followup (multipart photo report)",
        transport.request("POST", f"{API}/followup", json_body={"receipt": visit.receipts[2]}),
        200,
    )

    # --- refusals ----------------------------------------------------------------------------
    step("POST reports invalid", transport.request("POST", f"{API}/reports", json_body={}), 400)
    value, nonce = challenge()
    step(
        "POST reports outside France",
        transport.request(
            "POST", f"{API}/reports", json_body={**report, "challenge": value, "latitude": 10.0}
        ),
        400,
    )
    step(
        "POST reports malformed JSON",
        transport.request(
            "POST", f"{API}/reports", body=b'{"challenge": ', content_type="application/json"
        ),
        400,
    )
    step(
        "POST reports text/plain",
        transport.request("POST", f"{API}/reports", body=b"hello", content_type="text/plain"),
        415,
    )
    step("PUT reports", transport.request("PUT", f"{API}/reports", json_body=report), 405)
    step("GET unknown API path", transport.request("GET", f"{API}/inconnu"), 404)
    step("GET unknown public path", transport.request("GET", "/signaler/inconnu/"), 404)
    step("GET unknown static file", transport.request("GET", "/static/inconnu.js"), 404)
    step("GET staff page anonymously", transport.request("GET", "/signalements/"), 302)

    if force_server_error is not None:
        with force_server_error():
            step(
                "POST followup, server error",
                transport.request("POST", f"{API}/followup", json_body={"receipt": api_receipt}),
                500,
            )
            step(
                "POST /suivi/, server error",
                transport.request(
                    "POST",
                    "/suivi/",
                    fields=[("csrfmiddlewaretoken", csrf), ("receipt", receipt)],
                ),
                500,
            )

    # --- rate limits (last: they lock this client out) ----------------------------------------
    wrong = "0000-0000-0000-0000-0000-0000"
    for _attempt in range(20):
        answer = transport.request("POST", f"{API}/followup", json_body={"receipt": wrong})
        if answer.status == 429:
            break
        assert answer.status == 400, answer.text
    step("POST followup, wrong receipts until 429", answer, 429)
    step(
        "POST /suivi/ rate-limited",
        transport.request(
            "POST", "/suivi/", fields=[("csrfmiddlewaretoken", csrf), ("receipt", wrong)]
        ),
        429,
    )
    for _attempt in range(60):
        answer = transport.request("GET", f"{API}/challenge")
        if answer.status == 429:
            break
    step("GET challenge until 429", answer, 429)
    return visit


# --- transports --------------------------------------------------------------------------------


class DjangoTransport:
    """Django's test client, with the canary environ (REMOTE_ADDR and headers) on every request
    and CSRF checks enforced as in production."""

    def __init__(self, canaries: Canaries, *, ipv6: bool = False) -> None:
        from django.test import Client

        self.client = Client(
            enforce_csrf_checks=True, raise_request_exception=False, **canaries.meta(ipv6=ipv6)
        )
        name, value = canaries.cookie()
        self.client.cookies[name] = value

    def request(
        self,
        method: str,
        path: str,
        *,
        fields: Fields | None = None,
        files: Files | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        secure: bool = False,
    ) -> Answer:
        from django.core.files.uploadedfile import SimpleUploadedFile

        extra: dict[str, Any] = {
            "HTTP_" + k.upper().replace("-", "_"): v for k, v in (headers or {}).items()
        }
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        if fields is not None or files is not None:
            data: dict[str, Any] = {}
            for name, value in fields or []:
                data.setdefault(name, []).append(value)
            for name, (filename, content, ctype) in (files or {}).items():
                data[name] = SimpleUploadedFile(filename, content, content_type=ctype)
            response = self.client.generic(method, path, **_multipart(data), secure=secure, **extra)
        elif body is not None:
            response = self.client.generic(
                method, path, body, content_type=content_type or "", secure=secure, **extra
            )
        else:
            response = self.client.generic(method, path, secure=secure, **extra)
        return Answer(
            status=response.status_code,
            text=response.content.decode("utf-8", "replace"),
            headers={k.lower(): v for k, v in response.headers.items()},
            set_cookies=[morsel.OutputString() for morsel in response.cookies.values()],
        )


def _multipart(data: dict[str, Any]) -> dict[str, Any]:
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    return {"data": encode_multipart(BOUNDARY, data), "content_type": MULTIPART_CONTENT}


class HttpTransport:
    """Plain HTTP/1.1 to a real server, from a chosen loopback source address (so that the
    server sees the canary as the client's address), keeping cookies like a browser."""

    def __init__(self, base_url: str, canaries: Canaries) -> None:
        import urllib3

        host_port = base_url.split("//", 1)[1]
        host, port = host_port.rsplit(":", 1)
        self.host = host_port
        self.pool = urllib3.HTTPConnectionPool(
            host,
            int(port),
            source_address=(canaries.remote_ipv4, 0),
            retries=False,
            timeout=urllib3.Timeout(connect=10, read=60),
            maxsize=1,
        )
        self.base_headers = canaries.headers()
        name, value = canaries.cookie()
        self.cookies: dict[str, str] = {name: value}

    def request(
        self,
        method: str,
        path: str,
        *,
        fields: Fields | None = None,
        files: Files | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        from urllib3 import encode_multipart_formdata

        sent = {**self.base_headers, **(headers or {})}
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        if fields is not None or files is not None:
            parts: list[tuple[str, Any]] = list(fields or [])
            parts += [(name, file) for name, file in (files or {}).items()]
            body, content_type = encode_multipart_formdata(parts)
        if content_type:
            sent["Content-Type"] = content_type
        response = self.pool.urlopen(
            method, path, body=body, headers=sent, redirect=False, preload_content=True
        )
        set_cookies = response.headers.getlist("Set-Cookie")
        for line in set_cookies:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(line)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(
            status=response.status,
            text=response.data.decode("utf-8", "replace"),
            headers={k.lower(): v for k, v in response.headers.items()},
            set_cookies=set_cookies,
        )
