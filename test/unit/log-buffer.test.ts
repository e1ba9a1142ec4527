import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogBuffer } from '../../source/core/log-buffer.js';
import { LogFile, formatLogLine } from '../../source/core/log-file.js';
import type { LogLine } from '../../source/core/step.js';

const line = (n: number): LogLine => ({ at: 0, level: 'info', text: `line ${n}` });

describe('LogBuffer', () => {
  it('keeps the last `capacity` lines in order and counts every push', () => {
    const buffer = new LogBuffer(3);
    for (let i = 1; i <= 5; i++) buffer.push(line(i));
    expect(buffer.size).toBe(3);
    expect(buffer.total).toBe(5);
    expect(buffer.slice(0, 3).map((l) => l.text)).toEqual(['line 3', 'line 4', 'line 5']);
    expect(buffer.tail(2).map((l) => l.text)).toEqual(['line 4', 'line 5']);
    expect(buffer.slice(1, 99).map((l) => l.text)).toEqual(['line 4', 'line 5']);
    expect(buffer.slice(-5, 1).map((l) => l.text)).toEqual(['line 3']);
  });

  it('notifies subscribers on push until they unsubscribe', () => {
    const buffer = new LogBuffer(10);
    let calls = 0;
    const unsubscribe = buffer.subscribe(() => calls++);
    buffer.push(line(1));
    buffer.push(line(2));
    unsubscribe();
    buffer.push(line(3));
    expect(calls).toBe(2);
  });

  it('holds memory flat: a million pushes keep exactly `capacity` lines', () => {
    const buffer = new LogBuffer(1000);
    for (let i = 0; i < 1_000_000; i++) buffer.push(line(i));
    expect(buffer.size).toBe(1000);
    expect(buffer.tail(1)[0]?.text).toBe('line 999999');
  });

  it('rejects a nonsensical capacity', () => {
    expect(() => new LogBuffer(0)).toThrow(RangeError);
  });
});

describe('LogFile', () => {
  it('appends formatted lines to a 0600 file in a 0700 directory, tightening looser modes', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'pvt-logfile-'));
    try {
      const dir = path.join(root, 'logs');
      mkdirSync(dir, { mode: 0o755 });
      const file = path.join(dir, 'default.log');
      writeFileSync(file, 'old line\n', { mode: 0o644 });
      const log = new LogFile(file);
      log.write({ at: Date.UTC(2026, 0, 2, 3, 4, 5), level: 'warn', stepId: 'binary', source: 'stderr', text: 'checksum mismatch' });
      log.close();
      expect(readFileSync(file, 'utf8')).toBe('old line\n2026-01-02T03:04:05.000Z WARN  [binary/stderr] checksum mismatch\n');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('formats lines without step or source', () => {
    expect(formatLogLine({ at: 0, level: 'info', text: 'hi' })).toBe('1970-01-01T00:00:00.000Z INFO  hi');
  });
});
