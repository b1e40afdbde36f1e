"""The production guide's nginx configuration (docs/deployment.md, §5), read from the guide
itself: what an operator copies must keep per-client rate limits per client and must not log
what identifies a reporter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.test import Client, override_settings

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


@dataclass
class Block:
    """One nginx directive: its words and, for a block, the directives inside."""

    words: list[str]
    children: list[Block] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.words[0] if self.words else ""

    def find(self, name: str) -> list[Block]:
        return [child for child in self.children if child.name == name]

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[{};]|[^\s{};'"]+""")


def parse_nginx(text: str) -> Block:
    """A small reader for the guide's nginx block: words, quoted strings, `;` and braces
    (comments dropped). Enough to check directives, not a full nginx grammar."""
    text = re.sub(r"(?m)#.*$", "", text)
    root = Block(["<root>"])
    stack = [root]
    words: list[str] = []
    for token in _TOKEN.findall(text):
        if token == ";":
            stack[-1].children.append(Block(words))
            words = []
        elif token == "{":
            block = Block(words)
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, words
            stack.pop()
        else:
            words.append(token[1:-1] if token[0] in "'\"" else token)
    assert len(stack) == 1 and not words, "unbalanced nginx block in the guide"
    return root


def guide_nginx() -> Block:
    blocks = re.findall(r"```nginx\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 1, "the guide has one nginx configuration"
    return parse_nginx(blocks[0])


def https_server(config: Block) -> Block:
    (server,) = [
        server
        for server in config.find("server")
        if any("443" in " ".join(listen.words) for listen in server.find("listen"))
    ]
    return server


def location_for(server: Block, path: str) -> Block:
    """The `location` nginx would choose for `path` (exact, then `^~` prefix, then regular
    expressions in order, then the longest prefix)."""
    exact, prefixes, regexes = [], [], []
    for location in server.find("location"):
        args = location.words[1:]
        if args[0] == "=":
            exact.append((args[1], location))
        elif args[0] in ("~", "~*"):
            flags = re.I if args[0] == "~*" else 0
            regexes.append((re.compile(args[1], flags), location))
        elif args[0] == "^~":
            prefixes.append((args[1], location, True))
        elif not args[0].startswith("@"):
            prefixes.append((args[0], location, False))
    for value, location in exact:
        if path == value:
            return location
    matching = sorted(
        (prefix for prefix in prefixes if path.startswith(prefix[0])), key=lambda p: -len(p[0])
    )
    if matching and matching[0][2]:
        return matching[0][1]
    for pattern, location in regexes:
        if pattern.search(path):
            return location
    assert matching, f"no nginx location serves {path}"
    return matching[0][1]


def directive(server: Block, location: Block, name: str) -> list[list[str]]:
    """A directive's values in a location, inherited from the server when the location sets
    none (nginx's rule for proxy_set_header, access_log, error_log...)."""
    own = [block.words[1:] for block in location.find(name)]
    return own or [block.words[1:] for block in server.find(name)]


def env_value(name: str) -> str:
    """The example value the guide's environment table gives a variable."""
    match = re.search(rf"^\| `{name}` \|.*\| `([^`]*)` \|$", GUIDE.read_text(), flags=re.M)
    assert match, f"the guide's environment table documents {name}"
    return match.group(1)


REPORTER_PATHS = ["/signaler/", "/suivi/", "/suivi/reponse/", "/api/public/v1/reports"]


@pytest.mark.django_db
def test_the_documented_proxy_keeps_one_rate_limit_bucket_per_client():
    """Two visitors behind the guide's nginx, with the guide's settings, are counted apart;
    before, nginx sent no address and the whole country shared nginx's one bucket."""
    server = https_server(guide_nginx())
    trusted = [address.strip() for address in env_value("CARTOSTUP_TRUSTED_PROXIES").split(",")]
    for path in REPORTER_PATHS:
        location = location_for(server, path)
        (upstream,) = directive(server, location, "proxy_pass")
        proxy_address = re.match(r"https?://([^:/]+)", upstream[0]).group(1)  # type: ignore[union-attr]
        headers = {
            words[0].lower(): words[1] for words in directive(server, location, "proxy_set_header")
        }
        # The client's address crosses in X-Forwarded-For, replaced by nginx (a client's own
        # value is never passed on), and the proxy is declared.
        assert headers.get("x-forwarded-for") == "$remote_addr", (path, headers)
        assert proxy_address in trusted, (proxy_address, trusted)

    def visitor(address: str) -> Client:
        return Client(REMOTE_ADDR=proxy_address, HTTP_X_FORWARDED_FOR=address)

    limits = {"challenge": (2, 600), "submission": (2, 3600)}
    with override_settings(
        CARTOSTUP_TRUSTED_PROXIES=trusted,
        CARTOSTUP_RATE_LIMITS={**_settings_limits(), **limits},
    ):
        first, second = visitor("198.51.100.7"), visitor("203.0.113.40")
        statuses = [first.get("/api/public/v1/challenge").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert second.get("/api/public/v1/challenge").status_code == 200


def _settings_limits() -> dict:
    from django.conf import settings

    return dict(settings.CARTOSTUP_RATE_LIMITS)


def test_nginx_error_log_keeps_only_emergencies():
    """nginx writes the client's address in every error line and its format cannot change."""
    config = guide_nginx()
    for server in config.find("server"):
        levels = [words[-1] for words in (block.words for block in server.find("error_log"))]
        assert levels == ["emerg"], (server.words, levels)


# Variables nginx may never write in the guide's access log: addresses, headers of the client,
# query strings, and times with minutes or seconds.
FORBIDDEN_IN_LOG = {
    "$remote_addr",
    "$binary_remote_addr",
    "$realip_remote_addr",
    "$proxy_add_x_forwarded_for",
    "$http_x_forwarded_for",
    "$http_x_real_ip",
    "$http_user_agent",
    "$http_referer",
    "$http_cookie",
    "$remote_user",
    "$request",
    "$request_uri",
    "$args",
    "$query_string",
    "$time_iso8601",
    "$time_local",
    "$msec",
}
TIME_SOURCES = {"$time_iso8601": "2026-12-05T14:37:52+01:00", "$time_local": "05/Dec/2026:14:37:52"}
UNLOGGED_PATHS = [*REPORTER_PATHS, "/prevention/", "/signaler/communes", "/signalements/appel/"]


def _map_value(block: Block, source: str) -> str:
    """What an nginx `map` gives for `source` (regular expressions with named captures)."""
    for entry in block.children:
        key, value = entry.words[0], entry.words[1]
        if key.startswith("~"):
            pattern = re.compile(re.sub(r"\(\?<(\w+)>", r"(?P<\1>", key.lstrip("~*")))
            match = pattern.search(source)
            if match:
                return re.sub(r"\$(\w+)", lambda m: match.group(m.group(1)) or "", value)
        elif key == source:
            return value
    defaults = [entry.words[1] for entry in block.children if entry.words[0] == "default"]
    return defaults[0] if defaults else ""


def test_nginx_logs_the_hour_only_and_nothing_of_the_reporters_pages():
    """A line per public POST, even to the hour, is in order among the staff's: the n-th
    successful POST of an hour is the n-th report of that hour."""
    config = guide_nginx()
    server = https_server(config)
    maps = {block.words[2]: block for block in config.find("map")}
    formats = config.find("log_format") + server.find("log_format")
    assert formats, "the guide defines its log format"
    for log_format in formats:
        text = " ".join(log_format.words[2:])
        variables = set(re.findall(r"\$\w+", text))
        assert not variables & FORBIDDEN_IN_LOG, (log_format.words[1], variables)
        for variable in variables & set(maps):
            source_variable = maps[variable].words[1]
            if source_variable in TIME_SOURCES:
                value = _map_value(maps[variable], TIME_SOURCES[source_variable])
                assert "14" in value and "37" not in value and "52" not in value, value
    for path in UNLOGGED_PATHS:
        location = location_for(server, path)
        assert directive(server, location, "access_log") == [["off"]], path
        for error_page in location.find("error_page"):
            target = error_page.words[-1]
            if target.startswith("@"):
                (named,) = [block for block in server.find("location") if block.words[1] == target]
                assert directive(server, named, "access_log") == [["off"]], target
    # Staff pages are still logged (to the hour, with the format above).
    staff = location_for(server, "/signalements/tri/")
    assert directive(server, staff, "access_log")[0][0] != "off"


def test_the_public_apis_rate_limit_answers_in_the_apis_shape():
    """nginx's refusal of too many public API calls was French text/plain, where the schema
    promises the API's JSON (`detail`, `code`) for a 429 (API review)."""
    import json

    server = https_server(guide_nginx())
    location = location_for(server, "/api/public/v1/reports")
    (page,) = [words for words in directive(server, location, "error_page")]
    assert page[0] == "429"
    (named,) = [block for block in server.find("location") if block.words[1:] == [page[1]]]
    assert directive(server, named, "default_type") == [["application/json"]]
    (answer,) = directive(server, named, "return")
    assert answer[0] == "429"
    body = json.loads(answer[1])
    assert body["code"] == "rate_limited" and body["detail"].startswith("Trop de tentatives")
    # The pages keep their French text.
    pages = location_for(server, "/signaler/")
    (page,) = [words for words in directive(server, pages, "error_page")]
    (text,) = [block for block in server.find("location") if block.words[1:] == [page[1]]]
    assert directive(server, text, "default_type") == [["text/plain"]]
