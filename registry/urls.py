from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("companies/", views.company_list, name="company-list"),
    path("companies/<int:pk>/", views.company_scorecard, name="scorecard"),
    path("gaps/", views.sector_search, name="sector-search"),
]
