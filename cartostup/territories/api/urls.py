from django.urls import path

from .views import LocateView

app_name = "territories-api"
urlpatterns = [path("territories/locate", LocateView.as_view(), name="locate")]
