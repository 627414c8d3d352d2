/** The scheduler's public surface, for the live shell, the batcher and the dispatcher. */
export { createScheduler, type SchedulerOptions } from './scheduler.js';
export { schedulerConfig, DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig, type ServiceTimePrior } from './config.js';
export type * from './inputs.js';
export { isDecision, type SchedulerFact, type Observation } from './facts.js';
export type { WorkerObserved, TelemetryObserved, OomAlertObserved, BatchQueued, ResultDiscarded } from './facts.js';
export { SchedulerState, snapshot, restore, type SchedulerSnapshot } from './state.js';
export { HeapDeviceIndex, type DeviceIndex } from './placement.js';
export { weightedFairShare, INITIAL_FAIR_SHARE, type QueueDiscipline, type QueuedRequest, type FairShareState } from './fair-share.js';
export { admit, finish, earliestCompletionMs, INITIAL_ADMISSION, type AdmissionState, type AdmissionVerdict } from './admission.js';
export { tenantTable, tenantPolicy, classRank, type TenantPolicy, type TenantTable } from './tenants.js';
export { LINK_LEVELS, levelFromNvmlAncestor, type LinkLevel, type TopologyLink } from './topology.js';
