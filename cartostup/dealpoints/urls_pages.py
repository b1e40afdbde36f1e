"""Deal-point pages (/points-de-deal/): list, record, create, edit and the analysts' actions
(POST only: each answers 405 to a GET from someone who may act, 404 to anyone else)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.dealpoint_list, name="list"),
    path("nouveau/", views.dealpoint_create, name="create"),
    path("<int:pk>/", views.dealpoint_detail, name="detail"),
    path("code/<str:code>/", views.dealpoint_by_code, name="by_code"),
    path("<int:pk>/modifier/", views.dealpoint_edit, name="edit"),
    path("<int:pk>/statut/", views.dealpoint_status, name="status"),
    path("<int:pk>/statut/corriger/", views.dealpoint_status_correct, name="status_correct"),
    path("<int:pk>/operation/", views.dealpoint_operation, name="operation"),
    path(
        "<int:pk>/operation/annuler/",
        views.dealpoint_operation_cancel,
        name="operation_cancel",
    ),
    path("<int:pk>/diffusion/", views.dealpoint_sharing, name="sharing"),
    path("<int:pk>/fusionner/", views.dealpoint_merge, name="merge"),
    path("<int:pk>/annuler-fusion/", views.dealpoint_unmerge, name="unmerge"),
    path("<int:pk>/scinder/", views.dealpoint_split, name="split"),
    path("<int:pk>/rattacher/", views.dealpoint_attach, name="attach"),
    path("<int:pk>/detacher/<int:report_pk>/", views.dealpoint_detach, name="detach"),
    path("<int:pk>/confirmer/<int:report_pk>/", views.dealpoint_confirm_link, name="confirm_link"),
]
