// Wire tensors <-> onnxruntime-node tensors, for sessions in the calling thread.
import * as ort from 'onnxruntime-node';
import { datatypeOfOrt, type WireTensor } from './tensors.ts';

/** An ORT tensor over wire bytes, copying only when the bytes are not aligned for the type. */
export function toOrtTensor(t: WireTensor): ort.Tensor {
  const bytes = t.data;
  const view = <A>(C: { new (b: ArrayBufferLike, o: number, n: number): A; BYTES_PER_ELEMENT: number }): A => {
    // A copy through the Uint8Array constructor: Buffer#slice would return a view at the same offset.
    const aligned = bytes.byteOffset % C.BYTES_PER_ELEMENT === 0 ? bytes : new Uint8Array(bytes);
    return new C(aligned.buffer, aligned.byteOffset, aligned.byteLength / C.BYTES_PER_ELEMENT);
  };
  switch (t.datatype) {
    case 'FP32':
      return new ort.Tensor('float32', view(Float32Array), t.shape);
    case 'FP16': {
      // onnxruntime-common turns Uint16Array into Float16Array where the runtime has one
      // (Node 24), which the native binding does not accept; keep the Uint16Array.
      const u16 = view(Uint16Array);
      const tensor = new ort.Tensor('float16', u16, t.shape);
      (tensor as unknown as { cpuData: Uint16Array }).cpuData = u16;
      return tensor;
    }
    case 'INT8':
      return new ort.Tensor('int8', view(Int8Array), t.shape);
    case 'UINT8':
      return new ort.Tensor('uint8', view(Uint8Array), t.shape);
    case 'INT32':
      return new ort.Tensor('int32', view(Int32Array), t.shape);
    case 'INT64':
      return new ort.Tensor('int64', view(BigInt64Array), t.shape);
    case 'BOOL':
      return new ort.Tensor('bool', view(Uint8Array), t.shape);
  }
}

export function fromOrtTensor(name: string, t: ort.Tensor): WireTensor {
  const datatype = datatypeOfOrt(t.type);
  if (!datatype) throw new Error(`output ${name} has element type ${t.type}, which is not served`);
  const data = t.data as ArrayBufferView;
  return { name, datatype, shape: t.dims.map(Number), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
