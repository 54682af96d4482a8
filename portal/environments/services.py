"""Writing the environments catalogue (staff): create, edit, deactivate, each audited."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.environments.models import Environment
from portal.environments.selectors import environment_cache_forget
from portal.environments.validation import environment_errors
from portal.errors import InvalidInput, NotAllowed

FIELDS = (
    "name",
    "display_name",
    "for_training",
    "for_inference",
    "for_sessions",
    "image",
    "cuda_version",
    "description",
    "description_ko",
    "active",
)


def _check(staff, values: dict) -> None:
    if not staff.is_staff:
        raise NotAllowed(_("Only programme staff manage the environments catalogue."))
    checked = {
        k: values[k]
        for k in (
            "name",
            "display_name",
            "image",
            "cuda_version",
            "for_training",
            "for_inference",
            "for_sessions",
        )
    }
    errors = environment_errors(**checked)
    if errors:
        raise InvalidInput(_("The environment is not valid."), fields=errors)


def _save(environment: Environment) -> None:
    try:
        with transaction.atomic():
            environment.save()
    except IntegrityError:
        raise InvalidInput(
            _("The environment is not valid."),
            fields={"name": [_("Another environment already has this name.")]},
        ) from None


@transaction.atomic
def environment_create(
    *,
    staff,
    name: str,
    display_name: str,
    image: str,
    cuda_version: str,
    for_training: bool = True,
    for_inference: bool = False,
    for_sessions: bool = False,
    description: str = "",
    description_ko: str = "",
    active: bool = True,
) -> Environment:
    values = dict(
        name=name.strip(),
        display_name=display_name.strip(),
        image=image.strip(),
        cuda_version=cuda_version.strip(),
        for_training=for_training,
        for_inference=for_inference,
        for_sessions=for_sessions,
        description=description.strip(),
        description_ko=description_ko.strip(),
        active=active,
    )
    _check(staff, values)
    environment = Environment(**values)
    _save(environment)
    audit_record(
        actor=staff, target=environment, action="environment_created", data={"image": environment.image}
    )
    transaction.on_commit(environment_cache_forget)
    return environment


@transaction.atomic
def environment_update(*, environment: Environment, staff, **changes) -> Environment:
    """Change any of FIELDS; a change of image or of the active flag is recorded with before and after."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise TypeError(f"not environment fields: {sorted(unknown)}")
    values = {field: getattr(environment, field) for field in FIELDS}
    values.update({k: v.strip() if isinstance(v, str) else v for k, v in changes.items()})
    _check(staff, values)
    before = {field: getattr(environment, field) for field in FIELDS}
    for field, value in values.items():
        setattr(environment, field, value)
    environment.updated_at = timezone.now()
    _save(environment)
    changed = {field: [before[field], values[field]] for field in FIELDS if before[field] != values[field]}
    if "active" in changed and not environment.active:
        action = "environment_deactivated"
    elif "active" in changed:
        action = "environment_reactivated"
    else:
        action = "environment_updated"
    audit_record(
        actor=staff,
        target=environment,
        action=action,
        from_state="active" if before["active"] else "inactive",
        to_state="active" if environment.active else "inactive",
        data={"changed": changed},
    )
    transaction.on_commit(environment_cache_forget)
    return environment


def environment_deactivate(*, environment: Environment, staff) -> Environment:
    """Stop offering an environment; jobs that ran it keep its name and image."""
    return environment_update(environment=environment, staff=staff, active=False)
