from rest_framework import serializers

from quotas.rounds.statistics import FEWER_THAN_MINIMUM, PROTECTS_ANOTHER


class StatisticsFiguresOut(serializers.Serializer):
    applications = serializers.IntegerField(help_text="Applications sent and not withdrawn.")
    asked_gpu_hours = serializers.IntegerField()
    selected = serializers.IntegerField(
        help_text="Applications awarded (an allocation not lapsed, or a line)."
    )
    selection_ratio = serializers.FloatField(allow_null=True, help_text="selected ÷ applications (0–1).")
    awarded_gpus = serializers.IntegerField(help_text="The selected applications' concurrent GPUs, summed.")
    awarded_gpu_hours = serializers.IntegerField()
    allocated_gpu_hours = serializers.IntegerField(help_text="Awarded GPU-hours held by allocations.")
    used_gpu_hours = serializers.FloatField()
    utilisation = serializers.FloatField(
        allow_null=True, help_text="used_gpu_hours ÷ allocated_gpu_hours (none without allocations)."
    )


class StatisticsGroupOut(serializers.Serializer):
    group = serializers.CharField(help_text="The group's code (a sector, region, organisation type, track).")
    label = serializers.CharField()
    withheld = serializers.ChoiceField(
        choices=["", FEWER_THAN_MINIMUM, PROTECTS_ANOTHER],
        help_text="Public statistics: why the figures are withheld (blank: shown).",
    )
    figures = StatisticsFiguresOut(allow_null=True)


class CallStatisticsOut(serializers.Serializer):
    call = serializers.UUIDField(source="call.public_id")
    total = StatisticsGroupOut()
    by_sector = StatisticsGroupOut(many=True)
    by_region = StatisticsGroupOut(many=True)
    by_org_type = StatisticsGroupOut(many=True)
    by_track = StatisticsGroupOut(many=True)
