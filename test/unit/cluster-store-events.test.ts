// ESO's events for a store: the newest Warning since an apply, and whether a Valid event occurred
// after a snapshot (ESO records one on every successful validation, pkg/controllers/secretstore/common.go;
// client-go's correlator repeats an event as the same object with a higher count).
import { describe, expect, it } from 'vitest';
import { newestWarning, validatedSince, validationMarks, type StoreEvent } from '../../source/steps/cluster/store-events.js';

function event(uid: string, type: string, reason: string, message: string, lastTimestamp: string, count = 1): StoreEvent {
  return { apiVersion: 'v1', kind: 'Event', metadata: { uid, name: `vault-backend.${uid}` }, type, reason, message, lastTimestamp, count };
}

const valid = event('a', 'Normal', 'Valid', 'store validated', '2026-12-02T20:00:00Z', 3);
const oldWarning = event('b', 'Warning', 'InvalidProviderConfig', 'old cause', '2026-12-02T19:00:00Z');
const newWarning = event('c', 'Warning', 'InvalidProviderConfig', 'new cause', '2026-12-02T20:00:05Z');

describe('newestWarning', () => {
  it('the newest Warning at or after the apply (second precision: one second of slack)', () => {
    expect(newestWarning([oldWarning, newWarning, valid], new Date('2026-12-02T20:00:05.800Z'))).toBe('new cause');
    expect(newestWarning([oldWarning, valid], new Date('2026-12-02T20:00:05Z'))).toBeUndefined();
  });
});

describe('validatedSince', () => {
  const before = validationMarks([valid, oldWarning]);

  it('the same Valid event seen again (count up) or a new one is a fresh validation', () => {
    expect(validatedSince(before, [{ ...valid, count: 4, lastTimestamp: '2026-12-02T20:01:00Z' }])).toBe(true);
    expect(validatedSince(before, [valid, event('d', 'Normal', 'Valid', 'store validated', '2026-12-02T20:09:00Z')])).toBe(true);
  });

  it('the old Valid event unchanged, or only Warnings, is not', () => {
    expect(validatedSince(before, [valid, newWarning])).toBe(false);
    expect(validatedSince(new Set(), [newWarning])).toBe(false);
  });

  it('events.k8s.io series (count and lastObservedTime) count as repeats too', () => {
    const series = { ...valid, series: { count: 5, lastObservedTime: '2026-12-02T20:02:00Z' } };
    expect(validatedSince(validationMarks([valid]), [series])).toBe(true);
  });
});
