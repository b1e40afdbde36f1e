"""Writes on reports: intake (public web and mobile, call platform, landlords), follow-up with
a receipt, triage by the CROSS, and the retention purge (design §5).

Every service is keyword-only, runs in one transaction, validates with `full_clean()` and
writes its audit event inside the transaction. Nothing that identifies a reporter reaches
these functions: they never receive the request, only the parsed input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.files.uploadedfile import UploadedFile

from cartostup.access.models import Building, Organisation, User
from cartostup.territories.models import Departement

from .choices import Channel, Status
from .models import Report, ReportMessage


class ReceiptInvalid(Exception):
    """A receipt that matches no report (unknown, mistyped, or erased). `str(error)` is a
    French message; it never says which part was wrong."""


@dataclass(frozen=True)
class ReportInput:
    """What a reporter (or an operator, or a landlord) tells: the place and what was seen.

    Either `latitude`/`longitude` (a pin), or an `address` with its `commune_code` (then the
    position is the commune's representative point and the precision at most "street")."""

    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    commune_code: str | None = None
    precision: str = ""
    place_label: str = ""
    activities: list[str] = field(default_factory=list)
    online_account: str = ""
    products: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    times_of_day: list[str] = field(default_factory=list)
    people_count: str = "unknown"
    description: str = ""
    photo: UploadedFile | None = None


@dataclass(frozen=True)
class SubmittedReport:
    """A new report and its receipt in plain text: shown (or read back) once, never stored."""

    report: Report
    receipt: str


@dataclass(frozen=True)
class FollowUpMessage:
    author: str  # choices.MessageAuthor
    author_label: str
    text: str
    sent_on: date


@dataclass(frozen=True)
class FollowUp:
    """What a reporter sees with a receipt: a coarse status, never timing or triage details."""

    status: str  # choices.PublicStatus
    status_label: str
    messages: list[FollowUpMessage]
    # True while the analyst's last message is a question not answered yet.
    question_pending: bool


@dataclass(frozen=True)
class PurgeResult:
    reports: int
    messages: int
    photos: int


def report_owner_for(*, departement: Departement) -> Organisation:
    """The organisation that owns (triages) reports of a département: its active CROSS; if
    none, the active Ofast antenna covering it; else Ofast central."""
    raise NotImplementedError


def report_content_check(*, data: ReportInput, position: bool = True) -> None:
    """Raise `ValidationError` (French, per field) if the input cannot make a report: choices,
    the online account when "online selling" is ticked, and (if `position`) a pin in France or
    an address with a known commune. The forms call it; every submission service does too."""
    raise NotImplementedError


def report_submit_public(*, data: ReportInput, channel: Channel | str) -> SubmittedReport:
    """An anonymous resident reports through the web form (`Channel.WEB`) or the public API
    (`Channel.MOBILE`). Returns the report and its plain receipt (shown once).

    Raises `ValidationError` (French message per field) and stores nothing on invalid input.
    The caller has already checked the proof of work and the rate limits; it must not pass
    anything about the request (address, headers)."""
    raise NotImplementedError


def report_submit_by_operator(*, actor: User, data: ReportInput) -> SubmittedReport:
    """A call-platform operator keys in a phone call (`Capability.KEY_IN_CALLS`, 404
    otherwise). The receipt is returned to be read back to the caller; nothing about the
    caller is asked or stored."""
    raise NotImplementedError


def report_submit_by_landlord(*, actor: User, building: Building, data: ReportInput) -> Report:
    """A landlord referent reports on one of its own buildings (404 otherwise). The position,
    commune and address come from the building; `data.place_label` names the stairwell. No
    receipt: the landlord follows its reports in the application."""
    raise NotImplementedError


def report_followup(*, receipt: str) -> FollowUp:
    """The coarse status and the messages of the report a receipt opens (read-only).

    Raises `ReceiptInvalid` (French message) for a wrong receipt; the caller rate-limits."""
    raise NotImplementedError


def report_reply(*, receipt: str, text: str) -> ReportMessage:
    """The reporter writes to the analyst (typically answering a question), at any time while
    the report exists. Raises `ReceiptInvalid` or `ValidationError`."""
    raise NotImplementedError


def report_ask_question(*, actor: User, report: Report, text: str) -> ReportMessage:
    """A triaging analyst asks the reporter a question (status QUESTION). The reporter reads
    it with the receipt."""
    raise NotImplementedError


def report_accept(*, actor: User, report: Report, note: str = "") -> Report:
    """The analyst accepts the report (status ACCEPTED) and it waits for deal-point matching
    (`awaiting_matching=True`): the matching of the "Deal points" issue will consume it."""
    raise NotImplementedError


def report_reject(*, actor: User, report: Report, status: Status | str, note: str = "") -> Report:
    """The analyst rejects the report as spam or unfounded (`Status.SPAM` or
    `Status.UNFOUNDED`). Rejected reports are erased by the retention purge."""
    raise NotImplementedError


def reports_purge(*, now: datetime | None = None) -> PurgeResult:
    """Erase unconfirmed (NEW, QUESTION) and rejected (SPAM, UNFOUNDED) reports received more
    than `CARTOSTUP_REPORT_RETENTION_DAYS` days ago, with their messages and photo files,
    after adding them to the anonymous `RetainedCount`s. Accepted reports stay."""
    raise NotImplementedError
