// The Node.js heap settings the control plane runs with (the chart's NODE_OPTIONS and the
// benchmarks' child process use these). V8 sizes its heap from the machine's memory: the
// control plane's allocation rate (heartbeats, telemetry reads, reconciles) lets the old space
// grow to several times the live objects before a full collection, and the young generation
// takes up to 3 x 16 MiB. With a 1 MiB semi-space and a 320 MiB old-space ceiling it stays near
// what is live, most of it the modules' code (the Kubernetes client alone is tens of MiB); at
// 5,000 nodes about 175 MiB is live, and 512 let resident memory settle above 400 MiB.
/** Flags for `node` (command line or NODE_OPTIONS). */
export const CONTROL_PLANE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--max-old-space-size=320'];
