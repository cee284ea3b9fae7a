export { Balancer, POLICIES, type BalancerOptions, type Executor, type LaneLoad, type Policy, type SubmitOptions } from './balancer.ts';
export { SimClock, realClock, type Clock, type TimerHandle } from './clock.ts';
export { LatencyWindow, percentile, type LatencySummary } from './latency-window.ts';
export { ServiceTimes } from './service-time.ts';
