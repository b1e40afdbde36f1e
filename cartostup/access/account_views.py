"""Placeholder, replaced by the accounts work."""

from django.http import HttpRequest, HttpResponse


def login_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("connexion")


def second_factor_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("second facteur")
