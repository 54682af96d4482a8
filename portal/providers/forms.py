"""Forms for providers, clusters and contracts, shared by /admin/ and staff's portal pages: each runs the
service's own checks in clean() (a bad value is a field error, never a 500) and saves through the audited
services; a cluster's token is write-only (an empty field keeps the stored one; it is never shown)."""

from django import forms

from portal.providers import services
from portal.providers.models import Cluster, Contract, Provider
from portal.providers.validation import cluster_errors, contract_errors, provider_errors


class ServiceForm(forms.ModelForm):
    """Runs the service's own checks in clean(), so a bad value is a field error, not a 500."""

    def service_errors(self, data: dict) -> dict:
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        for field, messages in self.service_errors(data).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return data

    def add_service_error(self, error) -> None:
        """A service's refusal at save time (e.g. a name taken meanwhile), by field."""
        for field, messages in (error.fields or {None: [error.message]}).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class ProviderForm(ServiceForm):
    class Meta:
        model = Provider
        fields = list(services.PROVIDER_FIELDS)

    def service_errors(self, data):
        return provider_errors(**{f: data.get(f) or "" for f in services.PROVIDER_FIELDS})

    def save_with(self, staff) -> Provider:
        values = {f: self.cleaned_data.get(f) or "" for f in services.PROVIDER_FIELDS}
        if self.instance.pk:
            return services.provider_update(
                staff=staff, provider=Provider.objects.get(pk=self.instance.pk), **values
            )
        return services.provider_create(staff=staff, **values)


class ClusterForm(ServiceForm):
    api_url = forms.URLField(required=False, assume_scheme="https")
    new_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="A new service-account token; leave empty to keep the stored one.",
    )
    clear_token = forms.BooleanField(required=False)
    gpu_counts = forms.CharField(
        required=False, help_text="GPU type=count, comma separated: H100=400,H200=16"
    )

    class Meta:
        model = Cluster
        fields = ["provider", *services.CLUSTER_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["gpu_counts"] = ",".join(f"{g.gpu_type}={g.count}" for g in self.instance.gpus.all())

    def gpus(self) -> dict | None:
        text = self.cleaned_data.get("gpu_counts") or ""
        counts = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            gpu_type, _, count = part.partition("=")
            if not count.strip().isdigit():
                return None
            counts[gpu_type.strip()] = int(count)
        return counts

    def token(self) -> str | None:
        if self.cleaned_data.get("clear_token"):
            return ""
        return self.cleaned_data.get("new_token") or (None if self.instance.pk else "")

    def service_errors(self, data):
        gpus = self.gpus()
        if gpus is None:
            return {"gpu_counts": ["Write GPU type=count pairs, comma separated."]}
        errors = cluster_errors(
            **{f: data.get(f) or "" for f in services.CLUSTER_FIELDS},
            token=self.token(),
            has_token=self.instance.has_token if self.instance.pk else False,
            gpus=gpus,
        )
        if "gpus" in errors:
            errors["gpu_counts"] = errors.pop("gpus")
        if "token" in errors:
            errors["new_token"] = errors.pop("token")
        return errors

    def save_with(self, staff) -> Cluster:
        values = {f: self.cleaned_data.get(f) or "" for f in services.CLUSTER_FIELDS}
        if self.instance.pk:
            return services.cluster_update(
                staff=staff,
                cluster=Cluster.objects.get(pk=self.instance.pk),
                token=self.token(),
                gpus=self.gpus(),
                **values,
            )
        return services.cluster_create(
            staff=staff,
            provider=self.cleaned_data["provider"],
            token=self.token() or "",
            gpus=self.gpus(),
            **values,
        )


class ContractForm(ServiceForm):
    class Meta:
        model = Contract
        fields = ["provider", *services.CONTRACT_FIELDS]

    def service_errors(self, data):
        if any(data.get(f) is None for f in services.CONTRACT_FIELDS):
            return {}  # the model form already named the missing or malformed field
        return contract_errors(**{f: data.get(f) for f in services.CONTRACT_FIELDS})

    def save_with(self, staff) -> Contract:
        values = {f: self.cleaned_data.get(f) for f in services.CONTRACT_FIELDS}
        if self.instance.pk:
            return services.contract_update(
                staff=staff, contract=Contract.objects.get(pk=self.instance.pk), **values
            )
        return services.contract_create(staff=staff, provider=self.cleaned_data["provider"], **values)
