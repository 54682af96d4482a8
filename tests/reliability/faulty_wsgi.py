"""The portal's WSGI application with fault points on job submissions (tests/reliability/faults.py).

gunicorn serves ``tests.reliability.faulty_wsgi:application`` in the web crash and outage tests.
"""

from portal.wsgi import application as portal_application
from tests.reliability import faults


def application(environ, start_response):
    if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith("/api/v1/jobs"):
        return portal_application(environ, start_response)
    fault = faults.take()
    with faults.armed(fault):
        response = portal_application(environ, start_response)
    if fault and fault[1] == "response":
        faults.report("fired", "kill:response")
        faults.die()
    return response
