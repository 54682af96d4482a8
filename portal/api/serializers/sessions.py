"""Interactive sessions through the API (docs/sessions.md): launched, listed, read, stopped."""

from rest_framework import serializers

from portal.api.serializers.jobs import JobOut
from portal.api.serializers.strict import StrictInput
from scheduler.states import JobState


class SessionIn(StrictInput):
    allocation = serializers.UUIDField()
    environment_name = serializers.CharField(
        max_length=64, help_text="a catalogue environment offered for sessions"
    )
    gpu_type = serializers.CharField(max_length=16)
    gpus = serializers.IntegerField(min_value=1, max_value=64)
    time_limit_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)


class SessionOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    job = JobOut(source="*", help_text="the session's job: state, queue position, estimated start, placement")
    url = serializers.SerializerMethodField(help_text="where the session opens, once it runs (else null)")
    idle_limit_minutes = serializers.IntegerField(source="session.idle_limit_minutes")
    managers_may_enter = serializers.BooleanField(source="session.managers_may_enter")

    def get_url(self, job) -> str | None:
        # From the moment it runs: until JupyterLab listens the address answers "starting" (503, Retry-After).
        return f"/sessions/{job.public_id}/" if job.state == JobState.RUNNING else None
