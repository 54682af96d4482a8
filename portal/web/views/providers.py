"""Staff's pages for providers, their clusters and contracts (the same forms and audited services as
/admin/; a cluster's token is write-only), and a cluster's state (active, draining, offline)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.errors import ServiceError
from portal.providers import services
from portal.providers.forms import ClusterForm, ContractForm, ProviderForm
from portal.providers.models import Cluster, ClusterState, Contract, Provider
from portal.web.access import staff_required


@staff_required
def staff_provider_list(request):
    providers = Provider.objects.prefetch_related("clusters__gpus", "contracts").order_by("name")
    return render(
        request, "web/staff/providers.html", {"providers": providers, "states": ClusterState.choices}
    )


def _edit(request, form_class, instance, title: str):
    initial = {}
    if instance is None and request.GET.get("provider"):
        initial["provider"] = Provider.objects.filter(public_id=request.GET["provider"]).first()
    form = form_class(request.POST or None, instance=instance, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = form.save_with(request.user)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("%(name)s is saved.") % {"name": saved})
            return redirect("web:staff_provider_list")
    return render(request, "web/staff/provider_form.html", {"form": form, "title": title})


@staff_required
def staff_provider_edit(request, public_id=None):
    provider = get_object_or_404(Provider, public_id=public_id) if public_id else None
    return _edit(request, ProviderForm, provider, _("Edit provider") if provider else _("Add a provider"))


@staff_required
def staff_cluster_edit(request, public_id=None):
    cluster = get_object_or_404(Cluster, public_id=public_id) if public_id else None
    return _edit(request, ClusterForm, cluster, _("Edit cluster") if cluster else _("Add a cluster"))


@staff_required
def staff_contract_edit(request, public_id=None):
    contract = get_object_or_404(Contract, public_id=public_id) if public_id else None
    return _edit(request, ContractForm, contract, _("Edit contract") if contract else _("Add a contract"))


@staff_required
@require_POST
def staff_cluster_state(request, public_id):
    cluster = get_object_or_404(Cluster, public_id=public_id)
    try:
        services.cluster_set_state(
            staff=request.user,
            cluster=cluster,
            state=request.POST.get("state", ""),
            reason=request.POST.get("reason", "")[:500],
        )
    except ServiceError as error:
        messages.error(request, " ".join(m for ms in error.fields.values() for m in ms) or error.message)
    else:
        messages.success(request, _("%(name)s is saved.") % {"name": cluster.name})
    return redirect("web:staff_provider_list")
