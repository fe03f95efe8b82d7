from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("intake/", views.upload, name="upload"),
    path("intake/<int:pk>/", views.job_detail, name="job"),
    path("intake/<int:pk>/commit/", views.job_commit, name="job-commit"),
    path("intake/<int:pk>/matches/", views.job_matches, name="job-matches"),
]
