"""Coordinates fuzzed with hypothesis wherever they are parsed: the report form and the public
API, the deal-point form, the map's bbox and zoom, the territory locator and its API. Never an
exception: either valid (finite, in range) or refused with a French message.

Short in `make test`; `CARTOSTUP_FUZZ_LONG=1` (`make bench`) runs ten times more examples."""

from __future__ import annotations

import math
import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartostup.access.models import Building
from cartostup.dealpoints.api.map_serializers import LayerInputSerializer
from cartostup.dealpoints.forms import DealPointForm
from cartostup.reports.api.serializers import ReportSubmitInputSerializer
from cartostup.reports.forms import ReportForm
from cartostup.reports.models import Report
from cartostup.territories import locator

pytestmark = pytest.mark.django_db

FUZZ_LONG = os.environ.get("CARTOSTUP_FUZZ_LONG") == "1"
FUZZ = settings(
    max_examples=600 if FUZZ_LONG else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Numbers as a person, a spreadsheet or an attacker may type them.
TRICKY = [
    "",
    " ",
    "nan",
    "NaN",
    "-inf",
    "Infinity",
    "1e309",
    "-1e-400",
    "43,3",
    "43.3.3",
    "0x2b",
    "4_3",
    "٤٣",  # Arabic-Indic digits: Python's float() reads them
    "４３",
    "43\x00",
    "43°17'N",
    "+90.0000000000000000001",
    "-180",
    "180.0",
    "9" * 400,
]
number_text = st.one_of(
    st.sampled_from(TRICKY),
    st.floats().map(repr),
    st.integers().map(str),
    st.decimals(allow_nan=True).map(str),
    st.text(max_size=30),
)
json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    number_text,
    st.lists(st.floats(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
# Messages Django or REST framework would give untranslated.
ENGLISH = re.compile(r"\b(Enter a|must be|valid number|This field|is required|Ensure this)\b")


def _french(messages: Any) -> None:
    text = " ".join(str(message) for message in messages)
    assert text.strip(), "a refusal must say why"
    assert not ENGLISH.search(text), text


def _in_range(latitude: float | None, longitude: float | None) -> None:
    for value, bound in ((latitude, 90), (longitude, 180)):
        if value is not None:
            assert math.isfinite(value) and -bound <= value <= bound


REPORT_FIELDS = {"precision": "building", "activities": ["selling"], "people_count": "unknown"}


@FUZZ
@given(latitude=number_text, longitude=number_text)
def test_report_form_coordinates(latitude, longitude):
    form = ReportForm(data={**REPORT_FIELDS, "latitude": latitude, "longitude": longitude})
    if form.is_valid():
        _in_range(form.cleaned_data["latitude"], form.cleaned_data["longitude"])
    else:
        _french(message for messages in form.errors.values() for message in messages)
    assert not Report.objects.exists()


@FUZZ
@given(latitude=json_value, longitude=json_value)
def test_report_api_coordinates(latitude, longitude):
    data = {**REPORT_FIELDS, "challenge": "x", "nonce": "", "latitude": latitude}
    data["longitude"] = longitude
    serializer = ReportSubmitInputSerializer(data=data)
    if serializer.is_valid():
        _in_range(serializer.validated_data["latitude"], serializer.validated_data["longitude"])
    else:
        for name in ("latitude", "longitude"):
            if name in serializer.errors:
                _french(serializer.errors[name])


@FUZZ
@given(latitude=number_text, longitude=number_text)
def test_dealpoint_form_coordinates(latitude, longitude):
    form = DealPointForm(
        data={
            "latitude": latitude,
            "longitude": longitude,
            "precision": "building",
            "channel": "fixed",
            "confidence": "low",
        },
        buildings=Building.objects.none(),
    )
    if form.is_valid():
        _in_range(form.cleaned_data["latitude"], form.cleaned_data["longitude"])
    else:
        _french(message for messages in form.errors.values() for message in messages)


bbox_text = st.one_of(
    st.lists(number_text, min_size=4, max_size=4).map(",".join),
    st.lists(st.floats(), min_size=3, max_size=5).map(lambda values: ",".join(map(str, values))),
    st.text(max_size=60),
)


@FUZZ
@given(bbox=bbox_text, zoom=number_text)
def test_map_bbox_and_zoom(bbox, zoom):
    serializer = LayerInputSerializer(data={"bbox": bbox, "zoom": zoom})
    if serializer.is_valid():
        box = serializer.validated_data["bbox"]
        assert all(math.isfinite(value) for value in (box.west, box.south, box.east, box.north))
        assert -180 <= box.west < box.east <= 180 and -90 <= box.south < box.north <= 90
        assert 0 <= serializer.validated_data["zoom"] <= 19
    else:
        _french(message for messages in serializer.errors.values() for message in messages)


@FUZZ
@given(latitude=json_value, longitude=json_value)
def test_locator(latitude, longitude):
    try:
        location = locator.locate(latitude, longitude)
    except locator.LocateError as error:
        _french([error])
    else:
        _in_range(location.latitude, location.longitude)
        assert location.commune_code


@FUZZ
@given(latitude=number_text, longitude=number_text)
def test_locate_api(client_for, latitude, longitude):
    client = client_for("cross13_analyst")
    client.raise_request_exception = False
    response = client.get(
        "/api/v1/territories/locate", {"latitude": latitude, "longitude": longitude}
    )
    assert response.status_code in (200, 400, 404), response.content[:300]
    body = response.json()
    if response.status_code != 200:
        assert body["detail"] and body["code"]
        _french([body["detail"], *(m for ms in body.get("errors", {}).values() for m in ms)])


@FUZZ
@given(bbox=bbox_text, zoom=number_text)
def test_map_layer_api(client_for, bbox, zoom):
    client = client_for("cross13_analyst")
    client.raise_request_exception = False
    response = client.get("/api/v1/map/dealpoints/", {"bbox": bbox, "zoom": zoom})
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        body = response.json()
        assert body["detail"] and body["code"]
        _french(m for ms in body.get("errors", {}).values() for m in ms)
