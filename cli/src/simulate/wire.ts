// Bytes a message costs on the NATS connection: the client protocol frame
// `PUB <subject> <size>\r\n<payload>\r\n`, which is what the server reads off the socket.
// TCP/IP headers come on top and depend on how the kernel batches segments.

const encoder = new TextEncoder();

export function pubFrameBytes(subject: string, payloadBytes: number): number {
  // 'PUB ' + subject + ' ' + size + '\r\n' + payload + '\r\n'
  return 4 + encoder.encode(subject).length + 1 + String(payloadBytes).length + 2 + payloadBytes + 2;
}
