from django.urls import path

from cartostup.core import views as core_views

app_name = "access"
# Placeholders, replaced by the administration work.
urlpatterns = [
    path("organisations/", core_views.home, name="organisation_list"),
    path("utilisateurs/", core_views.home, name="user_list"),
]
