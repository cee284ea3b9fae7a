"""Triton's Python client (tritonclient.http or tritonclient.grpc) against the agent: every
Open Inference Protocol endpoint, JSON and binary tensors, FP32 and FP16, batch 1 and 8,
and the refusals. Usage: triton_check.py http|grpc URL FP32_MODEL_PATH FP16_MODEL_PATH"""
import sys

import numpy as np

from common import Checks, close, expect_error, reference, rows, status_of

protocol, url, fp32_path, fp16_path = sys.argv[1:5]
if protocol == "http":
    import tritonclient.http as tc
else:
    import tritonclient.grpc as tc

client = tc.InferenceServerClient(url=url)
checks = Checks()
MODELS = {"tiny": (fp32_path, np.float32, "FP32"), "tiny16": (fp16_path, np.float16, "FP16")}


def meta(name, version=""):
    m = client.get_model_metadata(name, model_version=version)
    return m if isinstance(m, dict) else {"name": m.name, "versions": list(m.versions), "inputs": [{"name": i.name, "datatype": i.datatype, "shape": list(i.shape)} for i in m.inputs]}


def server_metadata():
    m = client.get_server_metadata()
    name, ext = (m["name"], m["extensions"]) if isinstance(m, dict) else (m.name, list(m.extensions))
    assert name == "edgeplane-agent", name
    assert "binary_tensor_data" in ext, ext


def model_metadata(name, version=""):
    _, _, datatype = MODELS[name]
    m = meta(name, version)
    assert m["name"] == name, m
    assert m["inputs"][0]["datatype"] == datatype and list(m["inputs"][0]["shape"]) == [-1, 4], m


def model_config(name):
    _, _, datatype = MODELS[name]
    c = client.get_model_config(name)
    c = c if protocol == "http" else {"max_batch_size": c.config.max_batch_size, "input": [{"data_type": mc_type_name(i.data_type), "dims": list(i.dims)} for i in c.config.input]}
    assert c["max_batch_size"] == 8, c
    assert c["input"][0]["data_type"] == f"TYPE_{datatype}" and list(c["input"][0]["dims"]) == [4], c


def mc_type_name(value):
    from tritonclient.grpc import model_config_pb2

    return model_config_pb2.DataType.Name(value)


def infer(name, batch, binary_in, binary_out, version=""):
    path, dtype, datatype = MODELS[name]
    x = rows(batch, dtype)
    inp = tc.InferInput("X", list(x.shape), datatype)
    if protocol == "http":
        inp.set_data_from_numpy(x, binary_data=binary_in)
        out = tc.InferRequestedOutput("Y", binary_data=binary_out)
    else:
        inp.set_data_from_numpy(x)
        out = tc.InferRequestedOutput("Y")
    r = client.infer(name, [inp], outputs=[out], model_version=version, request_id=f"req-{batch}")
    close(r.as_numpy("Y"), reference(path, x), dtype)
    resp = r.get_response()
    rid = resp["id"] if protocol == "http" else resp.id
    assert rid == f"req-{batch}", rid


def infer_all_outputs(name):
    path, dtype, datatype = MODELS[name]
    x = rows(2, dtype)
    inp = tc.InferInput("X", list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    r = client.infer(name, [inp])
    close(r.as_numpy("Y"), reference(path, x), dtype)


def infer_wrong_shape():
    x = np.zeros((1, 5), np.float32)
    inp = tc.InferInput("X", [1, 5], "FP32")
    inp.set_data_from_numpy(x)
    return expect_error(lambda: client.infer("tiny", [inp]), "400", "INVALID_ARGUMENT")


def infer_unknown_model():
    x = rows(1, np.float32)
    inp = tc.InferInput("X", [1, 4], "FP32")
    inp.set_data_from_numpy(x)
    return expect_error(lambda: client.infer("no-such-model", [inp]), "404", "NOT_FOUND")


def unknown_model_metadata():
    return expect_error(lambda: client.get_model_metadata("no-such-model"), "404", "NOT_FOUND")


def unknown_model_ready():
    try:
        ready = client.is_model_ready("no-such-model")
    except Exception as e:  # gRPC answers NOT_FOUND, which the client raises
        assert status_of(e) == "NOT_FOUND", e
        return "NOT_FOUND"
    assert ready is False, ready


def true(value, what):
    if value is not True:
        raise AssertionError(f"{what}: {value!r}")


checks.run("server live", lambda: true(client.is_server_live(), "live"))
checks.run("server ready", lambda: true(client.is_server_ready(), "ready"))
checks.run("server metadata", server_metadata)
for name in MODELS:
    checks.run(f"model metadata {name}", lambda name=name: model_metadata(name))
    checks.run(f"model metadata {name} by version", lambda name=name: model_metadata(name, MODELS[name][2].lower()))
    checks.run(f"model config {name}", lambda name=name: model_config(name))
    checks.run(f"model ready {name}", lambda name=name: true(client.is_model_ready(name), "ready"))
    checks.run(f"model ready {name} by version", lambda name=name: true(client.is_model_ready(name, MODELS[name][2].lower()), "ready"))
    for batch in (1, 8):
        if protocol == "http":
            for bin_in, bin_out in ((False, False), (True, True), (True, False), (False, True)):
                label = f"{'binary' if bin_in else 'JSON'} in, {'binary' if bin_out else 'JSON'} out"
                checks.run(f"infer {name} batch {batch} {label}", lambda name=name, batch=batch, i=bin_in, o=bin_out: infer(name, batch, i, o))
        else:
            checks.run(f"infer {name} batch {batch}", lambda name=name, batch=batch: infer(name, batch, True, True))
    checks.run(f"infer {name} by version", lambda name=name: infer(name, 1, True, True, MODELS[name][2].lower()))
    checks.run(f"infer {name} without naming outputs", lambda name=name: infer_all_outputs(name))
checks.run("wrong shape refused", infer_wrong_shape)
checks.run("unknown model refused", infer_unknown_model)
checks.run("unknown model metadata refused", unknown_model_metadata)
checks.run("unknown model not ready", unknown_model_ready)
checks.exit()
