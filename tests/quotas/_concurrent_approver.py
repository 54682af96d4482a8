"""Entry point for the multi-process award test: runs in a fresh, spawned interpreter.

Kept apart from the test module on purpose: a spawned child imports this module before Django is set
up, so it may import nothing from Django at the top.
"""

import os


def approve_in_own_process(database_name, application_id, staff_id, barrier, results) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    connection.settings_dict["NAME"] = database_name  # the test database, not the development one
    from portal.accounts.models import User
    from portal.applications.models import Application
    from portal.errors import ServiceError
    from quotas.services import application_decide

    try:
        application = Application.objects.get(pk=application_id)
        staff = User.objects.get(pk=staff_id)
        connection.ensure_connection()
        barrier.wait(timeout=60)
        application_decide(application=application, staff=staff, decision="approve", reason="Parallel panel")
        results.put((application_id, "approved", os.getpid()))
    except ServiceError as exc:
        results.put((application_id, exc.code, os.getpid()))
    except Exception as exc:  # noqa: BLE001 - report anything else to the parent, which fails the test
        results.put((application_id, f"error: {exc!r}", os.getpid()))
    finally:
        connection.close()
