"""The home page: who you are, your organisation and your territory."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cartostup.access import selectors as access_selectors


def home(request: HttpRequest) -> HttpResponse:
    memberships = access_selectors.membership_list_for_user(actor=request.user)
    return render(request, "core/home.html", {"memberships": memberships})
