from django.urls import path

from . import account_views

app_name = "accounts"
urlpatterns = [
    path("connexion/", account_views.login_view, name="login"),
    path("second-facteur/", account_views.second_factor_view, name="second_factor"),
]
urlpatterns.append(path("deconnexion/", account_views.login_view, name="logout"))
