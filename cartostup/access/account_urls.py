from django.urls import path

from . import account_views

app_name = "accounts"
urlpatterns = [
    path("connexion/", account_views.login_view, name="login"),
    path("second-facteur/", account_views.second_factor_view, name="second_factor"),
    path("deconnexion/", account_views.logout_view, name="logout"),
    path("session/prolonger/", account_views.session_keepalive, name="session_keepalive"),
    path("mot-de-passe/", account_views.password_change_view, name="password_change"),
    path("jetons/", account_views.api_tokens_view, name="api_tokens"),
    path("jetons/nouveau/", account_views.api_token_created_view, name="api_token_created"),
    path("jetons/<int:pk>/revoquer/", account_views.api_token_revoke_view, name="api_token_revoke"),
]
