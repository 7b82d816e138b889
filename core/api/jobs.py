"""``/api/v1/jobs/``: long work that left the request (``core.jobs``), newest first; ``{id}/`` to follow one.

A call whose work grows with its input (a CSV import above ``ASSIGNMENT_CSV_SYNC_MAX_ROWS`` rows) answers ``202`` with
the job below and a ``Location`` header naming it. Poll it until ``status`` is ``succeeded``, ``failed`` or
``abandoned``: ``result`` then holds the body the synchronous call would have answered (for a failure, its error
body), ``error`` the reason in a sentence."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from core.api.base import TenantReadOnlyViewSet
from core.jobs import Job, job_list


class JobProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done", help_text="Units of work done")
    total = serializers.IntegerField(source="progress_total", help_text="Units of work in all (0 while unknown)")
    phase = serializers.CharField(source="progress_phase", help_text="What it is doing now, for people")
    percent = serializers.IntegerField(allow_null=True, help_text="0–100 (null while the total is unknown)")


class JobActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "token", "system"])
    label = serializers.CharField()


class JobTargetSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="app.model, e.g. assignment.csvimport")
    id = serializers.CharField()


class JobSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(read_only=True)
    progress = JobProgressSerializer(source="*", read_only=True)
    result = serializers.JSONField(read_only=True, allow_null=True,
                                   help_text="Once over: what the synchronous call would have answered (or its "
                                             "error body); null before")
    created_by = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "kind_label", "status", "progress", "result", "error", "created_at", "started_at",
                  "finished_at", "abandoned_at", "created_by", "target"]
        read_only_fields = fields

    @extend_schema_field(JobActorSerializer)
    def get_created_by(self, job) -> dict:
        return {"type": job.created_by_type, "label": job.created_by}

    @extend_schema_field(JobTargetSerializer(allow_null=True))
    def get_target(self, job) -> dict | None:
        return {"type": job.target_type, "id": job.target_id} if job.target_type else None


def job_answer(job: Job, request=None) -> tuple[dict, dict]:
    """A ``202`` answer: the job resource and the ``Location`` header naming it."""
    location = reverse("api:job-detail", args=[job.pk], request=request)
    return JobSerializer(job).data, {"Location": location}


class JobViewSet(TenantReadOnlyViewSet):
    """The organization's jobs, newest first (filters ``kind``, ``status``)."""

    serializer_class = JobSerializer
    filterset_fields = ["kind", "status"]

    def get_queryset(self):
        return job_list(organization=self.organization)
