"""Node agent, local executor and NVML metering (not built yet)."""
