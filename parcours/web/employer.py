app_name = "employer"
urlpatterns = []
