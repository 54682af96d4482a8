"""What the scheduler reports for others to act on; the ops edge connects receivers (portal/ops/apps.py).

Lower layers report what happened and never import the ops figures they feed.
"""

from django.dispatch import Signal

# Sent after each scheduling cycle that ran: finished_at, seconds, started [(GPU type, seconds waited)],
# preemptions, bind_failures.
cycle_finished = Signal()
# Sent once when a budget first reaches 100 % of its award: allocation_id, gpu_type.
budget_exhausted = Signal()
