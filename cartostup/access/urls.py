from django.urls import path

from . import views

app_name = "access"
urlpatterns = [
    path("", views.index, name="index"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/nouvelle/", views.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/modifier/", views.organisation_edit, name="organisation_edit"),
    path("groupes-de-partage/", views.sharing_group_list, name="sharing_group_list"),
    path("groupes-de-partage/nouveau/", views.sharing_group_create, name="sharing_group_create"),
    path(
        "groupes-de-partage/<int:pk>/modifier/",
        views.sharing_group_edit,
        name="sharing_group_edit",
    ),
    path("antennes/", views.antenna_list, name="antenna_list"),
    path("antennes/<int:pk>/modifier/", views.antenna_edit, name="antenna_edit"),
    path("batiments/", views.building_list, name="building_list"),
    path("batiments/nouveau/", views.building_create, name="building_create"),
    path("batiments/<int:pk>/modifier/", views.building_edit, name="building_edit"),
    path("utilisateurs/", views.user_list, name="user_list"),
    path("utilisateurs/nouveau/", views.user_create, name="user_create"),
    path("utilisateurs/<int:pk>/", views.user_detail, name="user_detail"),
    path("utilisateurs/<int:pk>/modifier/", views.user_edit, name="user_edit"),
    path(
        "utilisateurs/<int:pk>/mot-de-passe-provisoire/",
        views.user_temporary_password,
        name="user_temporary_password",
    ),
    path(
        "utilisateurs/<int:pk>/nouveau-mot-de-passe/",
        views.user_password_reset,
        name="user_password_reset",
    ),
    path("utilisateurs/<int:pk>/desactiver/", views.user_deactivate, name="user_deactivate"),
    path("utilisateurs/<int:pk>/reactiver/", views.user_reactivate, name="user_reactivate"),
    path(
        "utilisateurs/<int:pk>/second-facteur/",
        views.user_second_factor_reset,
        name="user_second_factor_reset",
    ),
    path(
        "utilisateurs/<int:pk>/rattachements/",
        views.membership_create,
        name="membership_create",
    ),
    path("rattachements/<int:pk>/supprimer/", views.membership_delete, name="membership_delete"),
    path("jetons/<int:pk>/revoquer/", views.api_token_revoke, name="api_token_revoke"),
]
