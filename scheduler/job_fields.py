"""What a job may ask for, defined once: its fields' limits and defaults.

scheduler.validation checks a job against these; the API's JobIn and the portal's JobForm take their bounds
and defaults from here (the form as hints to the browser: the submit service decides). The kinds and
priorities are JobKind and JobPriority in scheduler.models. The longest run time is the setting
GPUGRANT_MAX_RUNTIME_MINUTES.
"""

# What a submitter gives, besides the allocation: the submit service's keyword arguments.
SUBMITTED_FIELDS = (
    "name",
    "kind",
    "environment_name",
    "image",
    "command",
    "environment",
    "gpu_type",
    "gpus_per_pod",
    "pods",
    "max_runtime_minutes",
    "priority",
    "provider",
    "region",
)

NAME_MAX_LENGTH = 100
ENVIRONMENT_NAME_MAX_LENGTH = 64
IMAGE_MAX_LENGTH = 300
GPU_TYPE_MAX_LENGTH = 16
COMMAND_MAX_ARGUMENTS = 100
ARGUMENT_MAX_LENGTH = 4096  # each command argument, and each environment variable's value
ENVIRONMENT_MAX_VARIABLES = 100
MAX_GPUS_PER_POD = 8  # a node's GPUs; the Job table's constraint gpus_per_pod_1_8 says the same
MAX_PODS = 128
MIN_RUNTIME_MINUTES = 1

DEFAULT_PODS = 1
DEFAULT_PRIORITY = "normal"  # JobPriority.NORMAL
