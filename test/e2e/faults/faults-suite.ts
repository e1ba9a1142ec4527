/**
 * Fault injection over the lab: for each step of the full setup (read from `plan --offline --json`,
 * so every registered phase takes part), the CLI is SIGKILLed just before the step applies, in the
 * middle of its apply, or after it applied and before its progress is saved; or the host-side sshd
 * session of the CLI's connection is killed while a command of the step runs. Vault is also
 * restarted in the middle of the vault phase. After each fault a plain `setup --yes` must converge:
 * every step done, a re-check with nothing to do, the same normalized end state as an uninterrupted
 * run (host files under /etc/vault, the binary's hash, unit states, Vault's mounts, policies, auth
 * methods and tokens, cluster objects when the plan has a cluster phase), and the keys in custody
 * must still open Vault (keys lost: 0).
 *
 * Which faults: by default one kind per step, rotated by a seed (PVT_FAULT_SEED, default the day
 * number), within a time budget (PVT_FAULT_BUDGET_S, default 330 s) so CI stays short. The whole
 * matrix: `PVT_FAULTS=all npx vitest run test/e2e/faults`. One fault: `PVT_FAULTS=host.binary:mid-apply`.
 * Lanes in parallel: PVT_FAULT_LANES (default 2). The last line printed is a JSON summary.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import path from 'node:path';
import { sh } from '../../../source/services/host/shell-quote.js';
import { type CliResult, type PlanSummary, type StepSummary } from '../support/cli.js';
import {
  applyStartLine,
  cutSshDuring,
  describeResult,
  differences,
  endState,
  finish,
  keysOpenVault,
  Lanes,
  logLinesPerStep,
  parseSummary,
  resetVault,
  selectFaults,
  SERVER,
  SETUP,
  startSetup,
  stepsLine,
  RUN_TIMEOUT_MS,
  type FaultJob,
  type Lane,
  type LabEnv,
  type Snapshot,
} from './harness.js';
import { PinnedCli } from './pinned-cli.js';

const LANES = Number(process.env['PVT_FAULT_LANES'] ?? 2);
const ALL = process.env['PVT_FAULTS']?.trim() === 'all';
const BUDGET_MS = Number(process.env['PVT_FAULT_BUDGET_S'] ?? (ALL || process.env['PVT_FAULTS'] ? 36_000 : 330)) * 1000;

/** The full setup's steps as the product lists them, with the lab's profile (connects to nothing). */
async function planSteps(): Promise<StepSummary[]> {
  const session = await pinned.session('faults-plan');
  try {
    const labDir = process.env['LAB_DIR'] ?? inject('labDir');
    await session.ok(['profile', 'import', path.join(labDir, SERVER.kind === 'openbao' ? 'profile-openbao.json' : 'profile.json')]);
    const { result, data } = await session.json<PlanSummary>(['plan', '--offline']);
    if (result.code !== 0) throw new Error(describeResult(['plan', '--offline', '--json'], result));
    return data.steps;
  } finally {
    await session.dispose();
  }
}

const pinned = await PinnedCli.copy();
const steps = await planSteps();
const withCluster = steps.some((step) => step.phase === 'cluster');
const { jobs, mode, seed } = selectFaults(steps, process.env);
const lanes = new Lanes(LANES, pinned);

interface Outcome {
  fault: string;
  injected: boolean;
  converged: boolean;
  keysLost: number;
  firstRun?: string;
  note?: string;
}
const outcomes: Outcome[] = [];
let reference: Snapshot | undefined;
let midLines = new Map<string, number>();
/** Steps the uninterrupted run applied; the others (pure checks such as preflight) never apply on a fresh host. */
const appliedInReference = new Set<string>();
let suiteStart = Date.now();

beforeAll(async () => {
  suiteStart = Date.now();
  await lanes.withLane(async (lane) => {
    const env = await lanes.fresh(lane, 'reference');
    const run = await env.session.run(SETUP, RUN_TIMEOUT_MS);
    expect(run.code, describeResult(SETUP, run)).toBe(0);
    for (const step of parseSummary(run)?.steps ?? []) if (step.outcome === 'applied') appliedInReference.add(step.id);
    reference = await endState(env, withCluster);
    midLines = await logLinesPerStep(env.info.logFile);
  });
}, 300_000);

afterAll(async () => {
  await lanes.dispose();
  await pinned.dispose();
  const summary = {
    suite: 'faults',
    server: SERVER.kind,
    mode,
    seed,
    steps: steps.length,
    faultsPlanned: jobs.length + 2,
    faultsInjected: outcomes.filter((outcome) => outcome.injected).length,
    runsConverged: outcomes.filter((outcome) => outcome.converged).length,
    keysLost: outcomes.reduce((sum, outcome) => sum + outcome.keysLost, 0),
    labInstances: lanes.labsStarted,
    seconds: Math.round((Date.now() - suiteStart) / 1000),
  };
  console.log(`faults:\n  ${outcomes.map((o) => `${o.fault}: ${o.injected ? 'injected' : 'NOT injected'}, ${o.converged ? 'converged' : 'NOT converged'}${o.firstRun ? `; faulted run ${o.firstRun}` : ''}${o.note ? `; ${o.note}` : ''}`).join('\n  ')}`);
  console.log(`RELIABILITY ${JSON.stringify(summary)}`);
}, 180_000);

/** A host for the job: a converged lane host with Vault wiped for vault steps, else a fresh lab. */
async function hostFor(lane: Lane, step: StepSummary): Promise<LabEnv> {
  if (step.phase === 'vault' && lane.current) {
    await resetVault(lane.current);
    return lane.current;
  }
  return lanes.fresh(lane, step.id.replace(/[^a-z0-9]+/g, '-'));
}

function describeRun(result: CliResult): string {
  return result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
}

/** The plain re-run and every check of convergence; records the outcome. */
async function expectConverged(env: LabEnv, outcome: Outcome, vaultRestartedByTest: boolean): Promise<void> {
  const rerun = await env.session.run(SETUP, RUN_TIMEOUT_MS);
  const summary = parseSummary(rerun);
  expect(rerun.code, describeResult(SETUP, rerun)).toBe(0);
  expect(summary?.steps.filter((step) => step.state !== 'done'), summary && stepsLine(summary.steps)).toEqual([]);
  expect((await env.session.profile()).lastRun?.result).toBe('ok');

  const actual = await endState(env, withCluster);
  const keysProblem = await keysOpenVault(env);
  outcome.keysLost = keysProblem === undefined ? 0 : 1;
  expect(keysProblem, 'the unseal keys and root token in custody open this Vault').toBeUndefined();
  const expected = vaultRestartedByTest ? { ...reference, serviceInvocation: actual['serviceInvocation'] } : reference;
  expect(differences(expected, actual), 'end state differs from the uninterrupted run').toEqual([]);
  outcome.converged = true;
}

function faultTest(job: FaultJob): void {
  const label = `${job.step.id}: ${job.kind}`;
  it(`${label} → a plain re-run converges to the uninterrupted end state, keys kept`, { timeout: 420_000 }, async (ctx) => {
    expect(reference, 'the uninterrupted run').toBeDefined();
    if (!appliedInReference.has(job.step.id)) ctx.skip(`${job.step.id} never applies on a fresh host (its check is done at once): no apply to interrupt`);
    await lanes.withLane(async (lane) => {
      if (Date.now() - suiteStart > BUDGET_MS) ctx.skip(`time budget of ${BUDGET_MS / 1000} s used up (PVT_FAULT_BUDGET_S)`);
      const outcome: Outcome = { fault: label, injected: false, converged: false, keysLost: 0 };
      outcomes.push(outcome);
      const reused = job.step.phase === 'vault' && lane.current !== undefined;
      const env = await hostFor(lane, job.step);
      const lines = midLines.get(job.step.id) ?? 1;
      const hook = job.kind === 'ssh-cut' ? undefined : job.kind === 'mid-apply' ? `${job.step.id}:mid-apply:${Math.max(1, Math.ceil(lines / 2))}` : `${job.step.id}:${job.kind}`;
      const running = startSetup(env, hook);
      if (job.kind === 'ssh-cut') {
        try {
          const cut = await cutSshDuring(running, job.step, env.lab.state.host.sshPort, env.lab.state.host.pidNamespace);
          expect(cut.sshdKilled, 'sshd processes of the CLI connection killed').toBeGreaterThan(0);
          outcome.note = cut.commandRunning ? 'connection cut while a command ran' : 'connection cut between commands (none caught in flight)';
        } catch (error) {
          await running.kill();
          throw error;
        }
      }
      const first = await finish(running);
      outcome.firstRun = describeRun(first);
      if (job.kind === 'ssh-cut') {
        // Either the step failed with a message (exit 1) or the transport reconnected and carried on (0).
        expect([0, 1], describeResult(SETUP, first)).toContain(first.code);
        expect(first.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
      } else {
        expect(first.signal, describeResult(SETUP, first)).toBe('SIGKILL');
        expect(first.stderr, 'the step had started to apply').toMatch(new RegExp(applyStartLine(job.step).source, 'm'));
        if (job.kind === 'mid-apply') outcome.note = `killed at log line ${Math.max(1, Math.ceil(lines / 2))} of ${lines}`;
      }
      outcome.injected = true;
      await expectConverged(env, outcome, reused);
    });
  });
}

describe.concurrent(`faults on ${SERVER.name} (${mode}, seed ${seed}, ${LANES} lanes): ${jobs.length} of ${steps.length * 4}`, () => {
  for (const job of jobs) faultTest(job);

  for (const stepId of ['vault.autounseal', 'vault.policies']) {
    const step = steps.find((candidate) => candidate.id === stepId);
    if (!step) continue;
    it(`${SERVER.name} restarted while ${stepId} applies → a plain re-run converges, keys kept`, { timeout: 420_000 }, async (ctx) => {
      await lanes.withLane(async (lane) => {
        if (Date.now() - suiteStart > BUDGET_MS) ctx.skip(`time budget of ${BUDGET_MS / 1000} s used up (PVT_FAULT_BUDGET_S)`);
        const outcome: Outcome = { fault: `${stepId}: vault-restart`, injected: false, converged: false, keysLost: 0 };
        outcomes.push(outcome);
        const env = await hostFor(lane, step);
        const running = startSetup(env);
        try {
          await running.waitForStderrLine(applyStartLine(step), RUN_TIMEOUT_MS);
          await env.lab.host.sudo(sh`systemctl restart ${SERVER.unit}`);
        } catch (error) {
          await running.kill();
          throw error;
        }
        outcome.injected = true;
        const first = await finish(running);
        outcome.firstRun = describeRun(first);
        expect([0, 1], describeResult(SETUP, first)).toContain(first.code);
        expect(first.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
        await expectConverged(env, outcome, true);
      });
    });
  }
});
