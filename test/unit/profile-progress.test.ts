import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPlan } from '../../source/core/runner.js';
import { Redactor } from '../../source/core/redact.js';
import type { Step } from '../../source/core/step.js';
import { profileFile } from '../../source/profile/paths.js';
import { ProfileStore } from '../../source/profile/store.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

let xdg: TempXdg;
let store: ProfileStore;

beforeEach(() => {
  xdg = useTempXdg();
  store = new ProfileStore();
  store.create('default');
});
afterEach(() => xdg.restore());

const readRaw = (): Record<string, any> => JSON.parse(readFileSync(profileFile('default'), 'utf8'));

describe('ProfileStore progress sink', () => {
  it('records lastRun and step progress in the profile file', async () => {
    const sink = store.progressSink('default');
    await sink.runStarted({ mode: 'apply', startedAt: '2026-11-01T10:00:00.000Z' });
    expect(store.load('default').lastRun).toEqual({ mode: 'apply', startedAt: '2026-11-01T10:00:00.000Z' });
    await sink.stepRecorded('host.preflight', { state: 'running', at: '2026-11-01T10:00:01.000Z' });
    await sink.stepRecorded('host.preflight', { state: 'done', at: '2026-11-01T10:00:02.000Z', durationMs: 900 });
    await sink.stepRecorded('host.account', { state: 'failed', at: '2026-11-01T10:00:03.000Z', error: 'useradd failed' });
    await sink.runEnded({ mode: 'apply', startedAt: '2026-11-01T10:00:00.000Z', endedAt: '2026-11-01T10:00:04.000Z', result: 'failed', failedStep: 'host.account' });

    const profile = store.load('default');
    expect(profile.progress).toEqual({
      'host.preflight': { state: 'done', at: '2026-11-01T10:00:02.000Z', durationMs: 900 },
      'host.account': { state: 'failed', at: '2026-11-01T10:00:03.000Z', error: 'useradd failed' },
    });
    expect(profile.lastRun?.result).toBe('failed');
    expect(profile.lastRun?.failedStep).toBe('host.account');
  });

  it('keeps a user edit made between two steps (re-reads before every write)', async () => {
    const sink = store.progressSink('default');
    await sink.stepRecorded('host.preflight', { state: 'done', at: 'a' });
    // The user edits the file in another terminal while the run goes on.
    const edited = readRaw();
    edited.host.address = '10.0.0.42';
    edited.vault.tls.extraSans = ['vault.lan'];
    writeFileSync(profileFile('default'), JSON.stringify(edited, null, 2));

    await sink.stepRecorded('host.account', { state: 'done', at: 'b' });
    const profile = store.load('default');
    expect(profile.host.address).toBe('10.0.0.42');
    expect(profile.vault.tls.extraSans).toEqual(['vault.lan']);
    expect(Object.keys(profile.progress)).toEqual(['host.preflight', 'host.account']);
  });

  it('keeps a user field even while it is invalid, and never validates it away', async () => {
    const edited = readRaw();
    edited.host.port = 70000; // half-way through an edit
    writeFileSync(profileFile('default'), JSON.stringify(edited));
    await store.progressSink('default').stepRecorded('host.preflight', { state: 'done', at: 'a' });
    const raw = readRaw();
    expect(raw.host.port).toBe(70000);
    expect(raw.progress['host.preflight'].state).toBe('done');
  });

  it('rejects malformed progress values (a bug in the caller), writing nothing', () => {
    const before = readFileSync(profileFile('default'));
    expect(() => store.progressSink('default').stepRecorded('x', { state: 'exploded', at: 'a' } as never)).toThrow();
    expect(readFileSync(profileFile('default')).equals(before)).toBe(true);
  });

  it('works as the runner sink: one write per record, measured cost per write', async () => {
    const steps: Step[] = ['a', 'b', 'c'].map((id) => ({
      id: `host.${id}`,
      phase: 'host',
      title: id,
      describe: () => [],
      check: async () => ({ state: 'done', detail: 'ok' }),
      apply: async () => undefined,
    }));
    const done = await runPlan(
      { steps },
      {
        profileName: 'default',
        profile: store.load('default'),
        services: { host: async () => Promise.reject(new Error('unused')) },
        prompt: {
          confirm: async () => false,
          secret: async () => '',
          text: async () => '',
          revealOnce: async () => undefined,
        },
        redactor: new Redactor(),
        progress: store.progressSink('default'),
      },
      { mode: 'apply', onEvent: () => undefined },
    );
    expect(done.result).toBe('ok');
    const profile = store.load('default');
    expect(profile.lastRun?.result).toBe('ok');
    expect(Object.values(profile.progress).map((entry) => entry.state)).toEqual(['done', 'done', 'done']);

    const sink = store.progressSink('default');
    const rounds = 50;
    const start = performance.now();
    for (let i = 0; i < rounds; i += 1) await sink.stepRecorded(`host.s${i % 5}`, { state: 'done', at: String(i) });
    const perWrite = (performance.now() - start) / rounds;
    // Runs after every step; fsync makes it a few ms on a Pi's SD card, far below a step's duration.
    expect(perWrite).toBeLessThan(50);
    console.info(`progress write: ${perWrite.toFixed(2)} ms per record`);
  });
});
