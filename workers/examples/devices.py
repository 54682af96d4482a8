"""Which device an example runs on: numpy on the CPU, or PyTorch on a CUDA GPU when one is usable."""

import os


class DeviceError(Exception):
    """The requested device cannot be used here."""


def cuda_status() -> tuple[bool, str]:
    """Whether PyTorch is installed and sees a CUDA GPU, and in words what it sees or why not."""
    # cuBLAS reads this when its first handle is made; without it, matmuls on the GPU may not repeat
    # exactly, and a resumed run would drift from an uninterrupted one.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    try:
        import torch
    except ImportError:
        return False, "PyTorch is not installed"
    except OSError as error:  # installed, but its CUDA libraries cannot be loaded
        return False, f"PyTorch cannot be imported: {error}"
    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        shown = "unset" if visible is None else repr(visible)
        return False, f"PyTorch {torch.__version__} sees no CUDA GPU (CUDA_VISIBLE_DEVICES is {shown})"
    return True, f"{torch.cuda.get_device_name(0)}, PyTorch {torch.__version__}"


def device_choose(requested: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a ``--device`` of ``auto``, ``cpu`` or ``cuda``."""
    if requested == "cpu":
        return "cpu"
    available, reason = cuda_status()
    if requested == "cuda" and not available:
        raise DeviceError(f"--device cuda cannot be used: {reason}")
    return "cuda" if available else "cpu"
