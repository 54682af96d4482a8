"""/admin/ for providers, clusters and contracts: the forms of portal/providers/forms.py, so every save
goes through the audited services and a cluster's token is write-only."""

from django.contrib import admin

from portal.providers.forms import ClusterForm, ContractForm, ProviderForm
from portal.providers.models import Cluster, Contract, Provider


class ServiceSavedAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        obj.pk = form.save_with(request.user).pk


@admin.register(Provider)
class ProviderAdmin(ServiceSavedAdmin):
    form = ProviderForm
    list_display = ["name", "contact_name", "contact_email", "contract_reference"]
    search_fields = ["name"]


@admin.register(Cluster)
class ClusterAdmin(ServiceSavedAdmin):
    form = ClusterForm
    list_display = ["name", "provider", "backend", "region", "state", "has_token"]
    list_filter = ["provider", "backend", "region", "state"]
    search_fields = ["name", "provider__name"]
    readonly_fields = ["state", "state_changed_at"]


@admin.register(Contract)
class ContractAdmin(ServiceSavedAdmin):
    form = ContractForm
    list_display = ["provider", "gpu_type", "gpus", "kind", "starts_on", "ends_on", "price_krw_per_gpu_hour"]
    list_filter = ["provider", "gpu_type", "kind"]
