import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../source/core/errors.js';
import { LogFile } from '../../source/core/log-file.js';
import type { ProgressSink } from '../../source/core/progress.js';
import { REDACTED, Redactor } from '../../source/core/redact.js';
import { runPlan, type RunEnvironment } from '../../source/core/runner.js';
import type { RunnerEvent } from '../../source/core/step.js';
import { defaultProfile, type LastRun, type StepProgress } from '../../source/profile/schema.js';
import { FakeSystem, gate, noServices, scriptedPrompter, testPlan, testStep } from '../support/test-steps.js';

class MemoryProgress implements ProgressSink {
  readonly runs: LastRun[] = [];
  readonly steps: [string, StepProgress][] = [];
  runStarted(run: LastRun): void {
    this.runs.push(run);
  }
  stepRecorded(stepId: string, progress: StepProgress): void {
    this.steps.push([stepId, progress]);
  }
  runEnded(run: LastRun): void {
    this.runs.push(run);
  }
  last(stepId: string): StepProgress['state'] | undefined {
    return this.steps.filter(([id]) => id === stepId).at(-1)?.[1].state;
  }
}

function environment(progress?: ProgressSink, redactor = new Redactor()): RunEnvironment {
  return { profileName: 'test', profile: defaultProfile(), services: noServices, prompt: scriptedPrompter(), redactor, ...(progress ? { progress } : {}) };
}

function collect(): { events: RunnerEvent[]; onEvent: (event: RunnerEvent) => void; types: () => string[] } {
  const events: RunnerEvent[] = [];
  return {
    events,
    onEvent: (event) => events.push(event),
    types: () => events.filter((e) => e.type !== 'log').map((e) => ('stepId' in e ? `${e.type}:${e.stepId}` : e.type)),
  };
}

describe('runPlan', () => {
  it('checks, applies and verifies steps in plan order, emitting typed events', async () => {
    const system = new FakeSystem();
    const plan = testPlan([testStep(system, { id: 'a', logs: ['hello from a'] }), testStep(system, { id: 'b', phase: 'vault' })]);
    const { onEvent, types, events } = collect();
    const done = await runPlan(plan, environment(), { mode: 'apply', onEvent });

    expect(done.result).toBe('ok');
    expect(system.applied).toEqual(['a', 'b']);
    // check before apply, check again after apply (verify), for each step in order
    expect(system.checked).toEqual(['a', 'a', 'b', 'b']);
    expect(types()).toEqual([
      'plan-start',
      'step-start:a',
      'step-checked:a',
      'step-applying:a',
      'step-done:a',
      'step-start:b',
      'step-checked:b',
      'step-applying:b',
      'step-done:b',
      'plan-done',
    ]);
    const log = events.find((e) => e.type === 'log' && e.line.text === 'hello from a');
    expect(log).toMatchObject({ line: { stepId: 'a', source: 'stdout', level: 'info' } });
    const stepDone = events.find((e) => e.type === 'step-done' && e.stepId === 'a');
    expect(stepDone).toMatchObject({ outcome: 'applied', check: { state: 'done' } });
    expect(typeof (stepDone as { durationMs: number }).durationMs).toBe('number');
  });

  it('resumes after a failed step: done steps are skipped by their checks, the failed one is retried', async () => {
    const system = new FakeSystem();
    const progress = new MemoryProgress();
    const failing = testStep(system, { id: 'b', failWith: new UserError('disk full', { hint: 'free some space' }) });
    const first = await runPlan(testPlan([testStep(system, { id: 'a' }), failing, testStep(system, { id: 'c' })]), environment(progress), {
      mode: 'apply',
      onEvent: () => undefined,
    });
    expect(first.result).toBe('failed');
    expect(system.applied).toEqual(['a', 'b']); // c never started
    expect(progress.last('a')).toBe('done');
    expect(progress.last('b')).toBe('failed');
    expect(progress.steps.find(([id, p]) => id === 'b' && p.state === 'failed')?.[1].error).toBe('disk full');
    expect(progress.runs.at(-1)).toMatchObject({ result: 'failed', failedStep: 'b' });

    system.applied.length = 0;
    const { onEvent, events } = collect();
    const second = await runPlan(testPlan([testStep(system, { id: 'a' }), testStep(system, { id: 'b' }), testStep(system, { id: 'c' })]), environment(progress), {
      mode: 'apply',
      onEvent,
    });
    expect(second.result).toBe('ok');
    expect(system.applied).toEqual(['b', 'c']);
    expect(events.find((e) => e.type === 'step-done' && e.stepId === 'a')).toMatchObject({ outcome: 'already-done' });
  });

  it('reports a failed step with its message and hint', async () => {
    const system = new FakeSystem();
    const { onEvent, events } = collect();
    await runPlan(testPlan([testStep(system, { id: 'a', failWith: new UserError('port 8200 is taken', { hint: 'stop the other service' }) })]), environment(), {
      mode: 'apply',
      onEvent,
    });
    expect(events.find((e) => e.type === 'step-failed')).toMatchObject({ stepId: 'a', message: 'port 8200 is taken', hint: 'stop the other service' });
  });

  it('fails a step whose apply does not reach done (verify)', async () => {
    const system = new FakeSystem();
    const done = await runPlan(testPlan([testStep(system, { id: 'a', lies: true }), testStep(system, { id: 'b' })]), environment(), {
      mode: 'apply',
      onEvent: () => undefined,
    });
    expect(done.result).toBe('failed');
    expect(done.checks['a']).toEqual({ state: 'drift', detail: 'a is wrong, want ok' });
    expect(system.applied).toEqual(['a']);
  });

  it('cancels the running step on abort, records it, and runs nothing after it', async () => {
    const system = new FakeSystem();
    const progress = new MemoryProgress();
    const held = gate();
    const controller = new AbortController();
    const { onEvent, events } = collect();
    const running = runPlan(testPlan([testStep(system, { id: 'a', gate: held.promise }), testStep(system, { id: 'b' })]), environment(progress), {
      mode: 'apply',
      signal: controller.signal,
      onEvent: (event) => {
        onEvent(event);
        if (event.type === 'step-applying') controller.abort();
      },
    });
    const done = await running;
    held.release();
    expect(done.result).toBe('cancelled');
    expect(events.find((e) => e.type === 'step-failed')).toMatchObject({ stepId: 'a', message: 'cancelled' });
    expect(system.applied).toEqual(['a']);
    expect(progress.last('a')).toBe('cancelled');
    expect(progress.runs.at(-1)).toMatchObject({ result: 'cancelled', failedStep: 'a' });
  });

  it('does not start when already aborted', async () => {
    const system = new FakeSystem();
    const controller = new AbortController();
    controller.abort();
    const done = await runPlan(testPlan([testStep(system, { id: 'a' })]), environment(), { mode: 'apply', signal: controller.signal, onEvent: () => undefined });
    expect(done.result).toBe('cancelled');
    expect(system.checked).toEqual([]);
  });

  it('check mode reports done / todo / drift per step and changes nothing', async () => {
    const system = new FakeSystem();
    system.values.set('a', 'ok');
    system.values.set('c', 'edited by hand');
    const progress = new MemoryProgress();
    const { onEvent, types } = collect();
    const done = await runPlan(testPlan([testStep(system, { id: 'a' }), testStep(system, { id: 'b' }), testStep(system, { id: 'c' })]), environment(progress), {
      mode: 'check',
      onEvent,
    });
    expect(done.result).toBe('drift');
    expect(Object.fromEntries(Object.entries(done.checks).map(([id, c]) => [id, c.state]))).toEqual({ a: 'done', b: 'todo', c: 'drift' });
    expect(done.checks['c']?.detail).toBe('c is edited by hand, want ok');
    expect(system.applied).toEqual([]);
    expect(types()).toContain('step-skipped:b');
    // a re-check leaves the saved setup progress alone
    expect(progress.runs).toEqual([]);
    expect(progress.steps).toEqual([]);
  });

  it('check mode goes on past a step whose check throws and reports the run as failed', async () => {
    const system = new FakeSystem();
    const broken = { ...testStep(system, { id: 'a' }), check: () => Promise.reject(new UserError('host unreachable')) };
    const done = await runPlan(testPlan([broken, testStep(system, { id: 'b' })]), environment(), { mode: 'check', onEvent: () => undefined });
    expect(done.result).toBe('failed');
    expect(done.checks['b']?.state).toBe('todo');
  });

  it('keeps running when saving progress fails, and says so in the log', async () => {
    const system = new FakeSystem();
    const broken: ProgressSink = {
      runStarted: () => undefined,
      stepRecorded: () => {
        throw new Error('EROFS: read-only file system');
      },
      runEnded: () => undefined,
    };
    const { onEvent, events } = collect();
    const done = await runPlan(testPlan([testStep(system, { id: 'a' })]), environment(broken), { mode: 'apply', onEvent });
    expect(done.result).toBe('ok');
    expect(events.some((e) => e.type === 'log' && e.line.level === 'warn' && e.line.text.includes('EROFS'))).toBe(true);
  });
});

describe('redaction through the runner', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('never lets a registered secret reach an event or the log file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pvt-redact-'));
    dirs.push(dir);
    const logFile = new LogFile(path.join(dir, 'logs', 'default.log'));
    const rootToken = 'hvs.CAESIJ1secretRootTokenValue';
    const unsealKey = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const system = new FakeSystem();
    const leaky = {
      ...testStep(system, { id: 'init' }),
      async apply(ctx: Parameters<ReturnType<typeof testStep>['apply']>[0]) {
        ctx.registerSecret(rootToken);
        ctx.registerSecret(unsealKey);
        ctx.log.info(`{"root_token":"${rootToken}","keys":["${unsealKey}"]}`, 'stdout');
        ctx.log.warn(`token ${rootToken}\nsecond line with ${unsealKey}`);
        system.values.set('init', 'ok');
      },
    };
    const failing = testStep(system, { id: 'after', failWith: new Error(`login failed for ${rootToken}`) });
    const events: RunnerEvent[] = [];
    await runPlan(testPlan([leaky, failing]), environment(), {
      mode: 'apply',
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'log') logFile.write(event.line);
      },
    });
    logFile.close();
    const everything = JSON.stringify(events) + readFileSync(logFile.path, 'utf8');
    expect(everything).not.toContain(rootToken);
    expect(everything).not.toContain(unsealKey);
    expect(everything).toContain(REDACTED);
    expect(events.find((e) => e.type === 'step-failed')).toMatchObject({ message: `login failed for ${REDACTED}` });
    // multi-line output becomes one log line per line
    expect(events.filter((e) => e.type === 'log' && e.line.stepId === 'init' && e.line.level === 'warn')).toHaveLength(2);
  });

  it('redacts the cells of a view a step presents (the self-test table must not show a token)', async () => {
    const system = new FakeSystem();
    const token = 'hvs.readonlyTokenValue123';
    const presenting = {
      ...testStep(system, { id: 'selftest' }),
      async apply(ctx: Parameters<ReturnType<typeof testStep>['apply']>[0]) {
        ctx.registerSecret(token);
        ctx.present({ kind: 'table', title: `self-test with ${token}`, columns: ['check', 'result'], rows: [['read with ' + token, 'ok']] });
        system.values.set('selftest', 'ok');
      },
    };
    const events: RunnerEvent[] = [];
    await runPlan(testPlan([presenting]), environment(), { mode: 'apply', onEvent: (event) => events.push(event) });
    const view = events.find((e) => e.type === 'step-view');
    expect(view).toMatchObject({ stepId: 'selftest', view: { title: `self-test with ${REDACTED}`, rows: [[`read with ${REDACTED}`, 'ok']] } });
  });
});
