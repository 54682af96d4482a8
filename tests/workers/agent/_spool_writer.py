"""Appends to a spool for ever, as the agent does, until killed: ``python -m tests.workers.agent._spool_writer DIR``.

Each append writes RECORDS_PER_BINDING records for each of BINDINGS (job, GPU) pairs together with
their binding states and the GPUs' states (last_energy_mj = the running sum of the records' energy),
continuing from whatever state the spool holds, so the parent can check both-or-neither after kill -9.
"""

import sys

from workers.records import UsageRecord
from workers.spool import BindingState, GpuState, Spool

BINDINGS = [("job-a", "GPU-0"), ("job-b", "GPU-0"), ("job-c", "GPU-1")]
RECORDS_PER_BINDING = 40


def main(directory: str) -> None:
    spool = Spool(directory)
    states = spool.binding_states()
    gpus = spool.gpu_states()
    print("started", flush=True)
    while True:
        records, updates = [], []
        energy = {uuid: (gpus[uuid].last_energy_mj if uuid in gpus else 0) for _job, uuid in BINDINGS}
        for job_id, uuid in BINDINGS:
            state = states.get((job_id, uuid)) or BindingState(job_id, uuid, 0.0, 0, 0, 0.0)
            sequence, end = state.next_sequence, state.last_interval_end
            for _ in range(RECORDS_PER_BINDING):
                records.append(
                    UsageRecord(job_id, uuid, 0, sequence, end, end + 10, 10, 1000 + sequence, 50.0, 1 << 30)
                )
                energy[uuid] += 1000 + sequence
                sequence, end = sequence + 1, end + 10
            states[(job_id, uuid)] = BindingState(job_id, uuid, 0.0, 0, sequence, end)
            updates.append(states[(job_id, uuid)])
        for uuid, total in energy.items():
            gpus[uuid] = GpuState(uuid, 0, total, end)
            updates.append(gpus[uuid])
        spool.append(records, updates)


if __name__ == "__main__":
    main(sys.argv[1])
