import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/domain/errors.js';

describe('dispatcher scale-out settings', () => {
  it('are off unless GPUFLOW_DISPATCHER_SHARE_GROUPS is set', () => {
    expect(loadConfig({}).dispatcherScaleOut).toBeNull();
    expect(loadConfig({ GPUFLOW_DISPATCHER_SHARE_GROUPS: '' }).dispatcherScaleOut).toBeNull();
  });

  it('take the share groups, and the snapshot interval and finished-request retention with their defaults', () => {
    expect(loadConfig({ GPUFLOW_DISPATCHER_SHARE_GROUPS: '2' }).dispatcherScaleOut).toEqual({ shareGroups: 2, snapshotIntervalMs: 10_000, finishedRetentionMs: 120_000 });
    expect(loadConfig({ GPUFLOW_DISPATCHER_SHARE_GROUPS: '1', GPUFLOW_DISPATCHER_SNAPSHOT_MS: '500', GPUFLOW_DISPATCHER_FINISHED_RETENTION_MS: '60000' }).dispatcherScaleOut)
      .toEqual({ shareGroups: 1, snapshotIntervalMs: 500, finishedRetentionMs: 60_000 });
  });

  it('refuse what is not a positive whole number, naming the variable', () => {
    expect(() => loadConfig({ GPUFLOW_DISPATCHER_SHARE_GROUPS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ GPUFLOW_DISPATCHER_SHARE_GROUPS: 'two' })).toThrow(/GPUFLOW_DISPATCHER_SHARE_GROUPS/);
    expect(() => loadConfig({ GPUFLOW_DISPATCHER_SHARE_GROUPS: '2', GPUFLOW_DISPATCHER_SNAPSHOT_MS: '-5' })).toThrow(/GPUFLOW_DISPATCHER_SNAPSHOT_MS/);
  });
});
