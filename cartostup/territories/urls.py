from django.urls import path

from cartostup.core import views as core_views

app_name = "territories"
# Placeholder, replaced by the territories work.
urlpatterns = [path("", core_views.home, name="index")]
