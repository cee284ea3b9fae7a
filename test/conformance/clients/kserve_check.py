"""The KServe Python SDK's clients (InferenceRESTClient with the v2 protocol, and
InferenceGRPCClient) against the agent: health, readiness, JSON and binary inference in FP32
and FP16 at batch 1 and 8, and the refusals. A process of its own: the SDK's protobuf
module and Triton's declare the same `inference` messages and cannot be imported together.
Usage: kserve_check.py HTTP_URL GRPC_ADDRESS FP32_MODEL_PATH FP16_MODEL_PATH"""
import asyncio
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

from common import Checks, close, reference, rows, status_of

http_url, grpc_address, fp32_path, fp16_path = sys.argv[1:5]
MODELS = {"tiny": (fp32_path, np.float32, "FP32"), "tiny16": (fp16_path, np.float16, "FP16")}
checks = Checks()
loop = asyncio.new_event_loop()
rest = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
grpc_client = None


def sync(coro):
    return loop.run_until_complete(coro)


def request(name, batch, binary, dtype_override=None, shape=None):
    path, dtype, datatype = MODELS[name]
    x = rows(batch, dtype) if shape is None else np.zeros(shape, dtype)
    inp = InferInput(name="X", shape=list(x.shape), datatype=dtype_override or datatype)
    inp.set_data_from_numpy(x, binary_data=binary)
    return InferRequest(model_name=name, infer_inputs=[inp], request_id=f"k-{batch}"), x, path, dtype


def rest_infer(name, batch, binary):
    req, x, path, dtype = request(name, batch, binary)
    res = sync(rest.infer(http_url, req, model_name=name))
    close(res.outputs[0].as_numpy(), reference(path, x), dtype)
    assert res.id == f"k-{batch}", res.id


def grpc_infer(name, batch):
    req, x, path, dtype = request(name, batch, True)
    res = sync(grpc_client.infer(req))
    close(res.outputs[0].as_numpy(), reference(path, x), dtype)
    assert res.model_name == name, res.model_name


def refused(call, *statuses, mentions=""):
    try:
        sync(call())
    except Exception as e:
        if status_of(e) in statuses:
            if mentions not in str(e):
                raise AssertionError(f"{status_of(e)} without {mentions!r} in its message: {e}")
            return status_of(e)
        raise AssertionError(f"status {status_of(e)!r} ({e}), expected {statuses}")
    raise AssertionError(f"no error, expected {statuses}")


def true(value, what):
    if value is not True:
        raise AssertionError(f"{what}: {value!r}")


async def make_grpc():
    return InferenceGRPCClient(url=grpc_address, retries=2, timeout=30)


grpc_client = sync(make_grpc())
checks.run("REST server live", lambda: true(sync(rest.is_server_live(http_url)), "live"))
checks.run("REST server ready", lambda: true(sync(rest.is_server_ready(http_url)), "ready"))
checks.run("gRPC server live", lambda: true(sync(grpc_client.is_server_live()), "live"))
checks.run("gRPC server ready", lambda: true(sync(grpc_client.is_server_ready()), "ready"))
for name in MODELS:
    checks.run(f"REST model ready {name}", lambda name=name: true(sync(rest.is_model_ready(http_url, name)), "ready"))
    checks.run(f"gRPC model ready {name}", lambda name=name: true(sync(grpc_client.is_model_ready(name)), "ready"))
    for batch in (1, 8):
        # The SDK itself refuses FP16 as JSON ("use the binary data format"), before sending.
        for binary in (False, True) if name == "tiny" else (True,):
            checks.run(f"REST infer {name} batch {batch} {'binary' if binary else 'JSON'}", lambda n=name, b=batch, bi=binary: rest_infer(n, b, bi))
        checks.run(f"gRPC infer {name} batch {batch}", lambda n=name, b=batch: grpc_infer(n, b))
checks.run("REST model ready, unknown model", lambda: true(not sync(rest.is_model_ready(http_url, "no-such-model")), "not ready"))
checks.run("REST wrong shape refused", lambda: refused(lambda: rest.infer(http_url, request("tiny", 1, True, shape=(1, 5))[0], model_name="tiny"), "400", mentions="shape"))
checks.run("REST unknown model refused", lambda: refused(lambda: rest.infer(http_url, request("tiny", 1, True)[0], model_name="no-such-model"), "404"))
checks.run("gRPC wrong shape refused", lambda: refused(lambda: grpc_client.infer(request("tiny", 1, True, shape=(1, 5))[0]), "INVALID_ARGUMENT", mentions="shape"))


def grpc_unknown():
    req = request("tiny", 1, True)[0]
    req.model_name = "no-such-model"
    return refused(lambda: grpc_client.infer(req), "NOT_FOUND", mentions="no-such-model")


checks.run("gRPC unknown model refused", grpc_unknown)
sync(rest.close())
sync(grpc_client.close())
checks.exit()
