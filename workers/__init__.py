"""What runs on GPU nodes: the node agent, NVML metering, the spool, and example workloads.

Nothing here imports Django: the agent talks to the portal over the REST API only.
"""
