"""Public pages of anonymous reporting (design §5): the report form (`/signaler/`), the
follow-up with a receipt (`/suivi/`), prevention and help (`/prevention/`), and the offline
commune search the form's map uses.

No account and nothing kept about the reader: the request is only used to compute the
in-memory rate-limit key (`ratelimit.client_key`); services receive parsed input, never the
request. Every response is `no-store` (nothing left in a shared device's cache) and keeps the
site's `same-origin` referrer policy (see docs/decisions.md: a `no-referrer` page makes Chromium
send `Origin: null` with its forms, which CSRF protection refuses). The receipt travels only in
POST bodies and in the page that shows it, never in a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from cartostup.core.forms import SummaryError, form_error_summary

from . import pow, ratelimit, receipts, services
from .choices import Channel, PublicStatus
from .commune_search import commune_resolve, commune_search
from .forms import ReportForm

# The public API's challenge endpoint (issue 3), fetched by the form's script.
CHALLENGE_URL = "/api/public/v1/challenge"
# Optional light limit on the commune search (bucket absent from the settings: no limit).
COMMUNE_SEARCH_BUCKET = "commune_search"
# Fields whose errors belong to the "where" block: shown next to the map and the search.
POSITION_FIELDS = ("latitude", "longitude")
# Where the summary sends the reader for an error of the "where" block.
PLACE_ANCHOR = ReportForm.place_anchor


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Headers of every public page: never stored by the browser or a proxy, and the site's
    referrer policy stated explicitly (no URL of ours ever reaches another site)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapper


# --- the report form ------------------------------------------------------------------------


def _form_context(
    request: HttpRequest, form: ReportForm, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "form": form,
        "challenge_url": CHALLENGE_URL,
        "tile_url": settings.CARTOSTUP_TILE_URL,
        "tile_attribution": settings.CARTOSTUP_TILE_ATTRIBUTION,
        "commune_query": request.POST.get("commune_query", "")[:100],
        # Without JavaScript a challenge must already be in the page: possible only when no
        # work is asked (difficulty 0); it is single-use and expires like any other.
        "embedded_challenge": pow.challenge_issue().value
        if settings.CARTOSTUP_POW_DIFFICULTY == 0
        else "",
    }
    context.update(extra or {})
    return context


def _summary(form: ReportForm, commune_query_error: str) -> list[SummaryError]:
    """The form's errors in page order; the "where" block's (pin, address's commune, typed
    commune) are one line, linked to the commune search that opens the block."""
    errors = form_error_summary(form)
    place = [index for index, error in enumerate(errors) if error.anchor == PLACE_ANCHOR]
    if place:
        first = errors[place[0]]
        kept = [error for error in errors if error.anchor != PLACE_ANCHOR]
        line = SummaryError(commune_query_error or first.message, first.label, PLACE_ANCHOR)
        return [*kept[: place[0]], line, *kept[place[0] :]]
    if commune_query_error:
        # The place comes first in the page: after the errors about the whole form.
        at = len(form.non_field_errors())
        line = SummaryError(commune_query_error, _("Lieu"), PLACE_ANCHOR)
        return [*errors[:at], line, *errors[at:]]
    return errors


def _commune_from_query(data: Any) -> str:
    """Without JavaScript the commune is typed, not chosen: resolve it here. Returns an error
    message for the commune field, or "" (resolved, or not needed)."""
    query = (data.get("commune_query") or "").strip()
    has_pin = bool(data.get("latitude")) and bool(data.get("longitude"))
    if data.get("commune_code") or not query or has_pin:
        return ""
    chosen, candidates = commune_resolve(query)
    if chosen is not None:
        data["commune_code"] = chosen.code
        return ""
    if not candidates:
        return _("Aucune commune ne correspond à « %(query)s ».") % {"query": query[:100]}
    return _("Plusieurs communes correspondent : %(names)s. Précisez le nom ou le code postal.") % {
        "names": ", ".join(result.label for result in candidates[:5])
    }


def _pow_message(error: pow.PowError, challenge: str) -> str:
    if error.code == "pow_expired":
        return _("Le délai d’envoi est dépassé. Vérifiez le formulaire et envoyez-le de nouveau.")
    if not challenge:
        return _(
            "Le calcul de protection n’a pas été fait : ce formulaire a besoin de JavaScript. "
            "Activez-le et envoyez de nouveau."
        )
    return _("L’envoi n’a pas pu être vérifié. Envoyez de nouveau le formulaire.")


@public_page
@require_http_methods(["GET", "HEAD", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """The anonymous report form; on success, the receipt page (shown once, never again)."""
    if request.method != "POST":
        return render(
            request, "reports/public/report_form.html", _form_context(request, ReportForm())
        )

    data = request.POST.copy()
    challenge = data.get("challenge", "")
    if pow.challenge_spent(challenge):
        # The same form sent again (the browser offers it when the receipt page is reloaded):
        # its challenge was redeemed by a saved report. Said without the form, so that nothing
        # invites a duplicate; known from the challenge alone, never from which report it was.
        return render(request, "reports/public/already_sent.html", {}, status=409)
    commune_query_error = _commune_from_query(data)
    form = ReportForm(data, request.FILES)
    # The challenge is consumed only by a form ready to be saved: a used challenge then means
    # a sent report (a form refused for a missing field can be sent again as it is).
    ready = not commune_query_error and form.is_valid()
    client = ratelimit.client_key(request)
    blocking: list[SummaryError] = []
    status = 200
    submitted: services.SubmittedReport | None = None
    try:
        ratelimit.ensure_allowed(ratelimit.Bucket.SUBMISSION, client)
    except ratelimit.RateLimited as error:
        blocking.append(SummaryError(str(error)))
        status = 429
    if not blocking and (ready or not challenge):
        # The challenge is spent with the report, in its transaction: a report refused, or
        # not saved at all (a server error, a busy database), leaves it unspent.
        try:
            with pow.challenge_redeemed(challenge=challenge, nonce=data.get("nonce", "")):
                if ready:
                    submitted = services.report_submit_public(
                        data=form.to_input(), channel=Channel.WEB
                    )
        except pow.PowError as error:
            blocking.append(SummaryError(_pow_message(error, challenge)))
        except ValidationError as error:
            form.add_service_error(error)
    if submitted is not None:
        ratelimit.record(ratelimit.Bucket.SUBMISSION, client)
        return render(
            request,
            "reports/public/receipt.html",
            {"receipt": submitted.receipt, "receipt_groups": submitted.receipt.split("-")},
        )
    form.is_valid()  # errors of every field, even when a blocking error came first
    position_error = commune_query_error or next(
        (
            str(form.errors[name][0])
            for name in (*POSITION_FIELDS, "commune_code")
            if name in form.errors
        ),
        "",
    )
    context = _form_context(
        request,
        form,
        {
            "error_summary": blocking + _summary(form, commune_query_error),
            "commune_query_error": commune_query_error
            or (str(form.errors["commune_code"][0]) if "commune_code" in form.errors else ""),
            "position_error": position_error,
            "photo_dropped": bool(request.FILES.get("photo")),
        },
    )
    return render(request, "reports/public/report_form.html", context, status=status)


@public_page
@require_safe
def communes(request: HttpRequest) -> HttpResponse:
    """`?q=` a name or a postcode -> up to 10 communes or arrondissements: code, name,
    postcodes, label, representative point, bounding box and simplified outline."""
    if COMMUNE_SEARCH_BUCKET in settings.CARTOSTUP_RATE_LIMITS:
        try:
            ratelimit.check(COMMUNE_SEARCH_BUCKET, ratelimit.client_key(request))
        except ratelimit.RateLimited as error:
            response = JsonResponse({"detail": str(error)}, status=429)
            response["Retry-After"] = str(error.retry_after)
            return response
    query = request.GET.get("q", "").strip()
    results = commune_search(query) if len(query) >= 2 else []
    return JsonResponse({"results": [result.as_json() for result in results]})


# --- follow-up ------------------------------------------------------------------------------

STATUS_EXPLANATIONS = {
    PublicStatus.RECEIVED: gettext_lazy(
        "Votre signalement a été reçu. Il sera examiné prochainement."
    ),
    PublicStatus.IN_PROGRESS: gettext_lazy(
        "Votre signalement est examiné. Si une question vous est posée, elle apparaît ci-dessous."
    ),
    PublicStatus.HANDLED: gettext_lazy(
        "Votre signalement a été traité. Merci. Pour la sécurité de tous, les suites données ne "
        "sont pas détaillées."
    ),
}


class _ReceiptRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _receipt_followup(request: HttpRequest, receipt: str) -> services.FollowUp:
    """The follow-up a receipt opens, with the brute-force limits: per client, and per receipt
    key (the public first part), so that many clients cannot share the guessing of one."""
    client = ratelimit.client_key(request)
    try:
        key = ratelimit.hashed_key(receipts.receipt_parse(receipt).key)
    except receipts.MalformedReceipt:
        key = ""
    try:
        ratelimit.ensure_allowed(ratelimit.Bucket.RECEIPT_CLIENT, client)
        if key:
            ratelimit.ensure_allowed(ratelimit.Bucket.RECEIPT_KEY, key)
    except ratelimit.RateLimited as error:
        raise _ReceiptRefused(str(error), 429) from error
    try:
        return services.report_followup(receipt=receipt)
    except services.ReceiptInvalid as error:
        ratelimit.record(ratelimit.Bucket.RECEIPT_CLIENT, client)
        if key:
            ratelimit.record(ratelimit.Bucket.RECEIPT_KEY, key)
        raise _ReceiptRefused(str(error), 200) from error


def _followup_page(
    request: HttpRequest, followup: services.FollowUp, receipt: str, **extra: Any
) -> HttpResponse:
    status = PublicStatus(followup.status)
    context = {
        "followup": followup,
        "receipt": receipts.receipt_format(receipts.receipt_normalise(receipt)),
        "status_label": status.label,
        "status_explanation": STATUS_EXPLANATIONS[status],
        **extra,
    }
    return render(request, "reports/public/followup.html", context)


@public_page
@require_http_methods(["GET", "HEAD", "POST"])
def followup(request: HttpRequest) -> HttpResponse:
    """Enter a receipt (POST only: never in a URL), see the coarse status and the messages."""
    if request.method != "POST":
        return render(request, "reports/public/followup.html", {})
    receipt = request.POST.get("receipt", "")[:100]
    if not receipt.strip():
        # Sent empty: asked for, not counted as a wrong receipt (new-user review).
        error = _("Saisissez le numéro de suivi reçu après votre signalement.")
        return render(request, "reports/public/followup.html", {"error": error})
    try:
        result = _receipt_followup(request, receipt)
    except _ReceiptRefused as refused:
        # What was typed stays in the field, to correct a character rather than type the 24
        # again on a phone (the page is never stored: no-store).
        context = {"error": str(refused), "typed": receipt}
        return render(request, "reports/public/followup.html", context, status=refused.status)
    return _followup_page(request, result, receipt)


@public_page
@require_http_methods(["GET", "HEAD", "POST"])
def followup_reply(request: HttpRequest) -> HttpResponse:
    """The reporter answers the analyst. Once sent, Post/Redirect/Get: the GET of this address
    says it was sent, so reloading that page sends nothing again. It cannot show the
    conversation: the receipt exists only in the POST bodies of the follow-up (no session, no
    cookie, never a URL), so the reporter types it again to read on (docs/decisions.md)."""
    if request.method != "POST":
        return render(request, "reports/public/followup.html", {"reply_sent": True})
    receipt = request.POST.get("receipt", "")[:100]
    text = request.POST.get("text", "")
    try:
        result = _receipt_followup(request, receipt)
    except _ReceiptRefused as refused:
        return render(
            request, "reports/public/followup.html", {"error": str(refused)}, status=refused.status
        )
    try:
        services.report_reply(receipt=receipt, text=text)
    except ValidationError as error:
        messages = error.message_dict.get("text") if hasattr(error, "error_dict") else None
        return _followup_page(
            request,
            result,
            receipt,
            reply_error=(messages or error.messages)[0],
            reply_text=text[:2000],
        )
    except services.ReceiptInvalid as error:  # erased between the two calls
        return render(request, "reports/public/followup.html", {"error": str(error)})
    # 303: the browser follows with a GET, which a reload repeats harmlessly.
    return redirect_see_other("reports_public:followup_reply")


def redirect_see_other(to: str) -> HttpResponse:
    """A 303 to a named address: after a POST that wrote, the browser GETs it."""
    response = redirect(to)
    response.status_code = 303
    return response


# --- prevention -----------------------------------------------------------------------------


@public_page
@require_safe
def prevention(request: HttpRequest) -> HttpResponse:
    """Prevention and where to get help (the plan's awareness campaign)."""
    return render(request, "reports/public/prevention.html", {})
