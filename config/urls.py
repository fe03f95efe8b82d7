from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("", include("registry.urls")),
    path("", include("passports.urls")),
    path("", include("taxonomy.urls")),
]
if settings.BENCH_ENDPOINTS:
    from passports.bench import bare_passport

    urlpatterns += [path("bench/bare/<str:identifier>/", bare_passport)]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
