"""Public reports API, mounted at `api/public/v1/` (namespace "reports-public-api")."""

from django.urls import path

from .api.views import ChallengeView, FollowupMessageView, FollowupView, ReportSubmitView

app_name = "reports-public-api"
urlpatterns = [
    path("challenge", ChallengeView.as_view(), name="challenge"),
    path("reports", ReportSubmitView.as_view(), name="report-submit"),
    path("followup", FollowupView.as_view(), name="followup"),
    path("followup/messages", FollowupMessageView.as_view(), name="followup-message"),
]
