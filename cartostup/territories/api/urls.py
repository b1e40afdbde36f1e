app_name = "territories-api"
urlpatterns: list = []
