import { describe, expect, it } from 'vitest';
import { originalOf, shadowCopy, SHADOW_RESULTS_TOPIC } from '../../../src/processors/traffic/shadow-copy.js';
import { divergence } from '../../../src/processors/traffic/shadow-divergence.js';
import { parseVersionSlowdowns } from '../../../src/gpu/simulated/version-slowdown.js';

describe('shadow copies and divergence', () => {
  it('copies a request for the shadow version, answered on the shadow topic under its own id', () => {
    const r = { requestId: 'r1', model: 'm', modelVersion: '1', tenant: 't', sloClass: 'batch' as const, deadlineMs: 5, submittedAtMs: 1, replyTo: 'inference.results', traceparent: '', tensor: new Uint8Array(4) };
    const c = shadowCopy(r, '3');
    expect(c).toMatchObject({ requestId: 'r1~shadow', modelVersion: '3', replyTo: SHADOW_RESULTS_TOPIC, tensor: r.tensor });
    expect(originalOf(c.requestId)).toBe('r1');
    expect(originalOf('r1')).toBeNull();
  });

  it('measures the max abs output difference and the latency delta', () => {
    expect(divergence({ output: [1, 2, 3], latencyUs: 100 }, { output: [1, 2.5, 2], latencyUs: 350 })).toEqual({ maxAbsDiff: 1, latencyDeltaUs: 250 });
    expect(divergence({ output: [0, 0], latencyUs: 10 }, { output: [0, 0], latencyUs: 5 })).toEqual({ maxAbsDiff: 0, latencyDeltaUs: -5 });
    expect(divergence({ output: [1], latencyUs: 0 }, { output: [1, 2], latencyUs: 0 }).maxAbsDiff).toBe(Infinity);
    expect(divergence({ output: [1, Number.NaN], latencyUs: 0 }, { output: [1, 2], latencyUs: 0 }).maxAbsDiff).toBe(Infinity);
  });

  it('parses the simulated slowdown knob and refuses nonsense', () => {
    expect([...parseVersionSlowdowns('mlp-small@2=400, m@v1.5=1.5')]).toEqual([['mlp-small@2', 400], ['m@v1.5', 1.5]]);
    expect(parseVersionSlowdowns('').size).toBe(0);
    expect(() => parseVersionSlowdowns('mlp-small=4')).toThrow(/model@version=factor/);
    expect(() => parseVersionSlowdowns('m@2=0.5')).toThrow(/at least 1/);
  });
});
