from django.urls import path

from . import views

app_name = "workspace"

urlpatterns = [
    path("workspace/", views.home, name="home"),
    path("companies/<int:pk>/grade/", views.grade_history_page, name="grade-history"),
]
