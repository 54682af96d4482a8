from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from portal.api.docs import ApiDocsView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("portal.api.urls")),
    path("", include("portal.ops.urls")),
    path("", include("portal.web.urls")),
]

handler400 = "portal.api.errors.bad_request"
handler403 = "portal.api.errors.permission_denied"
handler404 = "portal.api.errors.page_not_found"
handler500 = "portal.api.errors.server_error"
