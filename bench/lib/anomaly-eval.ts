/**
 * Evaluation of out-of-memory alerting on labelled traces: which traces got an alert in time (recall),
 * how early (lead time before the out-of-memory), and how many alerts fired where nothing was wrong
 * (false alarms per device-hour). Shared by bench/anomaly.ts and the detector's own tuning.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { step } from '../../src/domain/decider.js';
import type { GpuSample } from '../../src/domain/events/index.js';
import type { LabelledTrace } from '../../src/gpu/simulated/telemetry-scenarios.js';
import { oomDetector, type DetectorOptions } from '../../src/processors/anomaly/detector.js';

/** A labelled trace from the scenario generator or a recording. */
export type EvalTrace = Omit<LabelledTrace, 'kind'> & { kind: string };

/** An alerting rule run over one device's samples: the times at which it raised an alert. */
export type AlertRule = (samples: readonly GpuSample[]) => number[];

/** gpuflow's detector, driven sample by sample as the RxJS operator drives it. */
export function detectorRule(options: Partial<DetectorOptions> = {}): AlertRule {
  return (samples) => {
    const decider = oomDetector(options);
    let state = decider.initialState();
    const raised: number[] = [];
    for (const s of samples) {
      const r = step(decider, state, s, s.timestampMs);
      state = r.state;
      for (const e of r.events) if (e.type === 'AlertRaised') raised.push(s.timestampMs);
    }
    return raised;
  };
}

/**
 * The fixed threshold an operator would otherwise configure: memory used above `fraction` for `samples`
 * consecutive samples raises; as many consecutive samples at or below it clear.
 */
export function thresholdRule(fraction = 0.92, samples = 3): AlertRule {
  return (stream) => {
    const raised: number[] = [];
    let above = 0;
    let below = 0;
    let on = false;
    for (const s of stream) {
      const high = s.memUsedBytes / s.memTotalBytes > fraction;
      above = high ? above + 1 : 0;
      below = high ? 0 : below + 1;
      if (!on && above >= samples) {
        on = true;
        raised.push(s.timestampMs);
      } else if (on && below >= samples) {
        on = false;
      }
    }
    return raised;
  };
}

export interface TraceOutcome {
  id: string;
  kind: string;
  hours: number;
  /** For traces with an out-of-memory: whether an alert came between trouble start and the OOM. */
  detected: boolean | null;
  leadMs: number | null;
  falseAlarms: number;
}

export function evaluateTrace(trace: EvalTrace, rule: AlertRule): TraceOutcome {
  const raised = rule(trace.samples);
  const first = trace.samples[0]?.timestampMs ?? 0;
  const last = trace.samples[trace.samples.length - 1]?.timestampMs ?? first;
  const hours = (last - first + 500) / 3_600_000;
  if (trace.oomAtMs === null || trace.troubleStartMs === null) {
    return { id: trace.id, kind: trace.kind, hours, detected: null, leadMs: null, falseAlarms: raised.length };
  }
  const start = trace.troubleStartMs;
  const oom = trace.oomAtMs;
  const inTime = raised.filter((t) => t >= start && t < oom);
  // Alerts before the trouble, or after the device recovered, warned of nothing.
  const falseAlarms = raised.filter((t) => t < start).length;
  return {
    id: trace.id,
    kind: trace.kind,
    hours,
    detected: inTime.length > 0,
    leadMs: inTime.length > 0 ? oom - (inTime[0] as number) : null,
    falseAlarms,
  };
}

export interface Summary {
  traces: number;
  deviceHours: number;
  recall: number | null;
  medianLeadMs: number | null;
  falseAlarmsPerDeviceHour: number;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function summarise(outcomes: readonly TraceOutcome[]): Summary {
  const withOom = outcomes.filter((o) => o.detected !== null);
  const hours = outcomes.reduce((a, o) => a + o.hours, 0);
  // Missed traces count with zero lead: a median over detections alone would flatter a detector that misses.
  const leads = withOom.map((o) => o.leadMs ?? 0);
  return {
    traces: outcomes.length,
    deviceHours: Number(hours.toFixed(2)),
    recall: withOom.length === 0 ? null : withOom.filter((o) => o.detected).length / withOom.length,
    medianLeadMs: median(leads),
    falseAlarmsPerDeviceHour: hours > 0 ? outcomes.reduce((a, o) => a + o.falseAlarms, 0) / hours : 0,
  };
}

/**
 * Recorded traces: test/fixtures/gpu-traces/*.jsonl, one GpuSample per line. The out-of-memory (or
 * near-full) moment is where memory used first reaches its peak; the trouble starts when memory first
 * rises more than 2% of total above where the trace began.
 */
export function loadRecordedTraces(dir = join('test', 'fixtures', 'gpu-traces')): EvalTrace[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((file) => {
      const samples = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as GpuSample)
        .sort((a, b) => a.timestampMs - b.timestampMs);
      return labelRecorded(file, samples);
    });
}

/** Labels one recorded trace (one device); exported for tests. Traces with several devices are split. */
export function labelRecorded(file: string, samples: readonly GpuSample[]): EvalTrace[] {
  const byDevice = new Map<string, GpuSample[]>();
  for (const s of samples) byDevice.set(s.deviceUuid, [...(byDevice.get(s.deviceUuid) ?? []), s]);
  return [...byDevice].flatMap(([deviceUuid, stream]) => {
    const first = stream[0];
    if (first === undefined) return [];
    let peak = first;
    for (const s of stream) if (s.memUsedBytes > peak.memUsedBytes) peak = s;
    const rise = stream.find((s) => s.memUsedBytes - first.memUsedBytes > 0.02 * s.memTotalBytes);
    const troubleStartMs = rise !== undefined && rise.timestampMs < peak.timestampMs ? rise.timestampMs : null;
    return [
      {
        id: `${file.replace(/\.jsonl$/, '')}${byDevice.size > 1 ? `-${deviceUuid}` : ''}`,
        kind: 'recorded',
        deviceUuid,
        samples: stream,
        oomAtMs: troubleStartMs === null ? null : peak.timestampMs,
        troubleStartMs,
        params: { peakFraction: peak.memUsedBytes / peak.memTotalBytes },
      },
    ];
  });
}
