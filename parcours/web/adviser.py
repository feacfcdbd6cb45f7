app_name = "adviser"
urlpatterns = []
