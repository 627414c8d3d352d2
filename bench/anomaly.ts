/**
 * `npm run bench -- anomaly`: out-of-memory alerting on labelled telemetry at 2 Hz, gpuflow's detector
 * (LOF novelty + trend forecast) against the fixed threshold an operator would otherwise set
 * ("memory used > 92% for 3 consecutive samples"), on the same traces in one run:
 * recall and median lead time on leaks ramping to out-of-memory (and recorded traces, when
 * test/fixtures/gpu-traces/ has any), false alarms per device-hour on steady, sawtooth and burst traces.
 * `--quick` runs a tenth of the corpus.
 */
import { detectorRule, evaluateTrace, summarise, thresholdRule, type AlertRule, type Summary, type TraceOutcome } from './lib/anomaly-eval.js';
import { buildCorpus, FULL_CORPUS, groupOf, LEAK_RATES_PER_SEC, QUICK_CORPUS } from './lib/anomaly-corpus.js';
import { row, type BenchRow } from './result.js';

const BASELINE = 'memory used > 92% for 3 consecutive samples';

export async function run(args: string[]): Promise<BenchRow[]> {
  const quick = args.includes('--quick');
  const corpus = buildCorpus(quick ? QUICK_CORPUS : FULL_CORPUS);
  const rules: Record<'ours' | 'baseline', AlertRule> = { ours: detectorRule(), baseline: thresholdRule(0.92, 3) };
  const outcomes = { ours: [] as TraceOutcome[], baseline: [] as TraceOutcome[] };
  const started = Date.now();
  for (const trace of corpus) {
    outcomes.ours.push(evaluateTrace(trace, rules.ours));
    outcomes.baseline.push(evaluateTrace(trace, rules.baseline));
  }
  const groupOfId = new Map(corpus.map((t) => [t.id, groupOf(t)]));
  const pick = (which: 'ours' | 'baseline', groups: readonly string[]): Summary =>
    summarise(outcomes[which].filter((o) => groups.includes(groupOfId.get(o.id) as string)));

  const leakGroups = [...LEAK_RATES_PER_SEC.map((r) => `leak ${(100 * r).toFixed(1)}%/s`), 'recorded'];
  const allGroups = [...new Set(groupOfId.values())].sort();
  const breakdown = Object.fromEntries(allGroups.map((g) => [g, { ours: pick('ours', [g]), baseline: pick('baseline', [g]) }]));
  const recordedFiles = corpus.filter((t) => t.kind === 'recorded').length;
  const params = {
    samplingHz: 2,
    traces: corpus.length,
    deviceHours: summarise(outcomes.ours).deviceHours,
    recordedTraces: recordedFiles,
    quick,
    evaluationSeconds: Math.round((Date.now() - started) / 1000),
  };

  const ramps = { ours: pick('ours', leakGroups), baseline: pick('baseline', leakGroups) };
  const rows: BenchRow[] = [
    row({
      name: 'oom-recall-on-ramps',
      unit: 'fraction of traces alerted before OOM',
      ours: ramps.ours.recall ?? 0,
      baseline: { name: BASELINE, value: ramps.baseline.recall ?? 0 },
      higherIsBetter: true,
      params: { ...params, groups: leakGroups, target: '>= 0.95' },
    }),
    row({
      name: 'oom-median-lead-time',
      unit: 's before OOM (missed traces count as 0)',
      ours: (ramps.ours.medianLeadMs ?? 0) / 1000,
      baseline: { name: BASELINE, value: (ramps.baseline.medianLeadMs ?? 0) / 1000 },
      higherIsBetter: true,
      params: { ...params, groups: leakGroups, target: '>= 5 s' },
      headline: true,
    }),
  ];
  for (const [kind, target] of [['steady', '<= 1 per device-hour'], ['sawtooth', null], ['burst', null]] as const) {
    const ours = pick('ours', [kind]);
    const base = pick('baseline', [kind]);
    // With no false alarm at all, compare against the 95% upper bound of the rate (3 / device-hours).
    const upper = ours.falseAlarmsPerDeviceHour === 0 ? 3 / ours.deviceHours : ours.falseAlarmsPerDeviceHour;
    const r = row({
      name: `false-alarms-${kind}`,
      unit: 'alerts per device-hour',
      ours: upper,
      baseline: { name: BASELINE, value: base.falseAlarmsPerDeviceHour },
      higherIsBetter: false,
      params: { ...params, deviceHours: ours.deviceHours, ...(target ? { target } : {}) },
    });
    rows.push({
      ...r,
      ours: ours.falseAlarmsPerDeviceHour,
      extra: ours.falseAlarmsPerDeviceHour === 0 ? { ratioBasis: `no false alarm in ${ours.deviceHours} device-hours: ratio against the 95% upper bound ${upper.toFixed(4)}/h` } : {},
    });
  }
  const lastRow = rows[1] as BenchRow;
  rows[1] = { ...lastRow, extra: { breakdown } };
  return rows;
}
