from django.urls import path

from . import views

app_name = "taxonomy"

urlpatterns = [
    path("", views.home, name="home"),
    path("standards/", views.standard_list, name="standard-list"),
    path("standards/compare/", views.compare, name="compare"),
    path("standards/gaps/", views.landscape_gaps, name="gaps"),
    path("standards/changes/", views.landscape_changes, name="changes"),
    # Before <slug:code>/: "proposals" would read as a standard's code.
    path("standards/proposals/", views.proposal_list, name="proposals"),
    path("standards/proposals/<int:pk>/approve/", views.proposal_approve, name="proposal-approve"),
    path("standards/proposals/<int:pk>/reject/", views.proposal_reject, name="proposal-reject"),
    path("standards/<slug:code>/", views.standard_detail, name="standard-detail"),
    path("standards/<slug:code>/propose/", views.standard_propose, name="standard-propose"),
]
