/**
 * What every reader of models.manifests takes a tombstone (the model's key without a value) for:
 * the model's retirement (docs/models.md). One definition for the live processes and for replay.
 */
import type { ModelRetired } from '../domain/events/manifest.js';

export const retirementOf = (key: Buffer): ModelRetired => ({ type: 'ModelRetired', model: key.toString('utf8') });
