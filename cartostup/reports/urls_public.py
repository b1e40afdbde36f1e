"""Public pages of anonymous reporting, included at the site's root: /signaler/, /suivi/,
/prevention/ (listed in `access.middleware.PUBLIC_PREFIXES`: no account needed)."""

from django.urls import path

from . import public_views

app_name = "reports_public"
urlpatterns = [
    path("signaler/", public_views.report, name="report"),
    path("signaler/communes", public_views.communes, name="communes"),
    path("suivi/", public_views.followup, name="followup"),
    path("suivi/reponse/", public_views.followup_reply, name="followup_reply"),
    path("prevention/", public_views.prevention, name="prevention"),
]
