app_name = "facilitator"
urlpatterns = []
