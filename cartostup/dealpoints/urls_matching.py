"""The analysts' matching queue (/rapprochements/): proposed links, proposed new points,
resurgence and move alerts."""

from django.urls import path

from . import matching_views as views

urlpatterns = [
    path("", views.matching_queue, name="matching"),
    path("propositions/<int:pk>/creer/", views.proposal_accept, name="proposal_accept"),
    path("propositions/<int:pk>/ecarter/", views.proposal_dismiss, name="proposal_dismiss"),
    path("propositions/<int:pk>/rouvrir/", views.proposal_reopen, name="proposal_reopen"),
    path("alertes/<int:pk>/confirmer/", views.alert_confirm, name="alert_confirm"),
    path("alertes/<int:pk>/ecarter/", views.alert_dismiss, name="alert_dismiss"),
    path("liens/<int:pk>/confirmer/", views.link_confirm, name="link_confirm"),
    path("liens/<int:pk>/refuser/", views.link_refuse, name="link_refuse"),
]
