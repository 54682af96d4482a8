from django.urls import path

from portal.ops import views

# Served ahead of the other middleware by portal.ops.middleware.OpsEndpointsMiddleware; listed here so
# they can be reversed and appear in the access tests.
urlpatterns = [
    path("metrics", views.metrics, name="ops_metrics"),
    path("healthz/live", views.live, name="ops_live"),
    path("healthz/ready", views.ready, name="ops_ready"),
]
