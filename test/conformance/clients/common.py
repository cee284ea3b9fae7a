"""Shared by the conformance scripts: expected outputs from ONNX Runtime on the same model
file, and one JSON line per check on stdout, which the vitest suite reads."""
import json
import sys
import traceback

import numpy as np
import onnxruntime as ort

_sessions = {}


def reference(model_path, x):
    """What the model computes for x, run by ONNX Runtime in this process."""
    if model_path not in _sessions:
        _sessions[model_path] = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    s = _sessions[model_path]
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def rows(batch, dtype):
    """A deterministic batch for the tiny model's 4 input features."""
    return (np.arange(batch * 4, dtype=np.float32).reshape(batch, 4) / 8.0 - 1.0).astype(dtype)


def close(got, want, dtype):
    tol = 1e-2 if dtype == np.float16 else 1e-5
    got = np.asarray(got)
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape}, expected {want.shape}")
    if not np.allclose(got.astype(np.float32), want.astype(np.float32), atol=tol, rtol=tol):
        raise AssertionError(f"values {got.ravel()[:6]}..., expected {want.ravel()[:6]}...")


class Checks:
    def __init__(self):
        self.failed = 0

    def run(self, name, fn):
        try:
            detail = fn()
            print(json.dumps({"check": name, "ok": True, "detail": "" if detail is None else str(detail)}), flush=True)
        except Exception as e:  # every failure is reported, the run goes on
            self.failed += 1
            print(json.dumps({"check": name, "ok": False, "detail": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-1500:]}), flush=True)

    def exit(self):
        sys.exit(1 if self.failed else 0)


def expect_error(fn, *statuses):
    """fn must raise; the status (HTTP code or gRPC code name) must be one of `statuses`."""
    try:
        fn()
    except Exception as e:
        status = status_of(e)
        if status in statuses:
            return f"{status}: {e}"
        raise AssertionError(f"status {status!r} ({e}), expected {statuses}")
    raise AssertionError(f"no error, expected {statuses}")


def status_of(e):
    code = getattr(e, "code", None)
    if callable(code):  # grpc.RpcError
        return code().name
    status = getattr(e, "status", None)
    if callable(status):  # tritonclient InferenceServerException
        s = status()
        return s.replace("StatusCode.", "") if isinstance(s, str) else s
    response = getattr(e, "response", None)
    if response is not None:  # httpx.HTTPStatusError
        return str(response.status_code)
    return None
