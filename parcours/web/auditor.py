app_name = "auditor"
urlpatterns = []
