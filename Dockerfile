# The gpugrant image: the portal (gunicorn), the sessions' proxy (uvicorn), Celery worker and beat,
# scheduler-watch, the migration Job and the node agent all run it (deploy/). Build from the repository root:
#   docker build -t registry.example.kr/gpugrant/gpugrant:0.1.0 .
# The tag pins Python's patch release and Debian's; pin the digest too in your registry mirror.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
COPY . .
# Editable, so that the code stays in /app: settings find portal/locale/ and staticfiles/ beside manage.py
# (BASE_DIR). The agent extra (grpcio) is the node agent's kubelet client: one image for every process.
# The constraints are the versions the tests ran with.
RUN pip install --constraint constraints.txt --editable ".[agent]"
# collectstatic imports the settings, which in demo mode write a secret key and broker folders under
# GPUGRANT_VAR_DIR: send them to a folder removed in the same layer. The root filesystem is read-only
# at run time, so byte-code is compiled now.
RUN GPUGRANT_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/build-var \
    && python -m compileall -q /app

FROM ${PYTHON_IMAGE}
# A fixed numeric user, so that the kubelet can check runAsNonRoot; deploy/ runs as 10001 too.
RUN groupadd --system --gid 10001 gpugrant \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin gpugrant
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# Production by default: the settings then refuse to start without SECRET_KEY. Anything written at run
# time goes under /tmp (an emptyDir in deploy/).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GPUGRANT_ENV=production \
    GPUGRANT_VAR_DIR=/tmp/gpugrant
WORKDIR /app
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind=0.0.0.0:8000", "--workers=3", "--worker-class=gthread", "--threads=8", "--worker-tmp-dir=/tmp"]
