from django.urls import path

from . import views

app_name = "taxonomy"

urlpatterns = [
    path("", views.home, name="home"),
    path("standards/", views.standard_list, name="standard-list"),
    path("standards/compare/", views.compare, name="compare"),
    path("standards/gaps/", views.landscape_gaps, name="gaps"),
    path("standards/changes/", views.landscape_changes, name="changes"),
    path("standards/<slug:code>/", views.standard_detail, name="standard-detail"),
]
