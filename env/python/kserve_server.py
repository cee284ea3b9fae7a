"""The peer a user would otherwise pick: KServe's Python model server (the kserve SDK's
ModelServer) serving an ONNX model with ONNX Runtime, over the Open Inference Protocol's REST
(with the binary extension) and gRPC. Used by `npm run bench -- serving`.
Usage: kserve_server.py --http_port N --grpc_port N --model_path FILE --model_name NAME --threads N"""
import argparse

import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

parser = argparse.ArgumentParser(add_help=False)
parser.add_argument("--model_path", required=True)
parser.add_argument("--model_name", required=True)
parser.add_argument("--threads", type=int, default=1)
args, _ = parser.parse_known_args()  # the ports are the SDK's own flags


class OnnxModel(Model):
    def __init__(self, name, path, threads):
        super().__init__(name)
        self.path = path
        self.threads = threads
        self.session = None

    def load(self):
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        self.ready = True
        return self.ready

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = {i.name: i.as_numpy() for i in payload.inputs}
        outputs = self.session.run(None, feeds)
        infer_outputs = []
        for meta, value in zip(self.session.get_outputs(), outputs):
            out = InferOutput(name=meta.name, shape=list(value.shape), datatype="FP32" if value.dtype == np.float32 else "FP16")
            out.set_data_from_numpy(value, binary_data=True)
            infer_outputs.append(out)
        return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=infer_outputs, use_binary_outputs=True)


if __name__ == "__main__":
    model = OnnxModel(args.model_name, args.model_path, args.threads)
    model.load()
    ModelServer(workers=1).start([model])
