/**
 * The Kubernetes API failing for a while in the middle of the cluster phase. On a fresh lab host the
 * host and vault phases run first (`setup --phase host,vault`); then `setup --phase cluster` runs and,
 * the moment a chosen step starts to apply, the lab's fault proxy in front of the real API server
 * (test/lab/kube/fault-proxy.ts; the lane's profile points at it, Vault's TokenReviews included) is
 * switched (its fault switch, test/lab/kube/faults.ts) to
 *  - 500: every request answers a Status 500 (reason InternalError), for 10 s;
 *  - timeout: every request is held past the product's per-request timeout, for that timeout + 5 s.
 * The faulted run must fail by itself (no hang, no signal from the test): exit 1, a message naming
 * the Kubernetes API and the call that failed, a hint, no stack trace, the failed step recorded.
 * Once the fault is over, a plain `setup --yes` must converge to the end state of an uninterrupted
 * run (the faults suite's normalized snapshot: host files, units, Vault, cluster objects), the
 * ClusterSecretStore Ready (Valid), verify done, and the keys in custody must still open Vault.
 *
 * Which faults: `PVT_API_FAULTS=all` (every cluster step that applies × 500, timeout × switched on at
 * the step's first request or 8 requests later), `PVT_API_FAULTS=cluster.verify:500,cluster.eso-install:timeout+4`
 * (those; `+N`: N requests let through first), by default one 500 and one timeout at steps and depths
 * rotated by PVT_FAULT_SEED (default the day number). Lanes: PVT_FAULT_LANES
 * (default 3: the timeout fault mostly waits). The last line printed is a JSON summary.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REQUEST_TIMEOUT_MS } from '../../../source/services/cluster.js';
import { CLUSTER_PREFLIGHT_STEP_ID } from '../../../source/steps/cluster/preflight.js';
import { FAULTS_FILE_NAME, type FaultSetting } from '../../lab/kube/faults.js';
import type { PlanSummary, StepSummary } from '../support/cli.js';
import {
  applyStartLine,
  describeResult,
  differences,
  endState,
  finish,
  keysOpenVault,
  Lanes,
  parseSummary,
  RUN_TIMEOUT_MS,
  SETUP,
  stepsLine,
  type LabEnv,
  type Snapshot,
} from './harness.js';
import { PinnedCli } from './pinned-cli.js';

type ApiFaultKind = '500' | 'timeout';
const API_FAULT_KINDS: readonly ApiFaultKind[] = ['500', 'timeout'];
interface ApiFault {
  step: StepSummary;
  kind: ApiFaultKind;
  /** Requests let through after the switch is flipped (the fault lands that much deeper in the step). */
  pass: number;
}
/** Depths the full matrix tries: at the step's first request, and a few requests into its apply. */
const MATRIX_PASSES = [0, 8];

const LANES = Number(process.env['PVT_FAULT_LANES'] ?? 3);
const SECONDS = REQUEST_TIMEOUT_MS / 1000;
/** How long each fault lasts, and what the switch says. */
const FAULTS: Record<ApiFaultKind, { windowMs: number; setting: (untilMs: number, passRequests: number) => FaultSetting }> = {
  '500': { windowMs: 10_000, setting: (untilMs, passRequests) => ({ status: 500, untilMs, passRequests }) },
  // Held well past the client's timeout: only the client's own timeout can end the request.
  timeout: { windowMs: REQUEST_TIMEOUT_MS + 5000, setting: (untilMs, passRequests) => ({ delayMs: REQUEST_TIMEOUT_MS + 15_000, untilMs, passRequests }) },
};
const PHASES_1_2 = ['setup', '--yes', '--json', '--phase', 'host,vault'];
const CLUSTER_PHASE = ['setup', '--yes', '--json', '--phase', 'cluster'];

/** The product's message for the call that met the fault (helm's own, when helm met it first). */
const EXPECTED: Record<ApiFaultKind, { product: RegExp; helm: RegExp }> = {
  '500': {
    product: /the Kubernetes API at https:\/\/\S+ answered 500 while (reading|applying|listing|deleting|asking) .+: Internal error occurred/,
    helm: /helm .*(500|Internal error occurred)/i,
  },
  timeout: {
    product: new RegExp(`the Kubernetes API at https://\\S+ did not answer within ${SECONDS} s while (reading|applying|listing|deleting|asking) .+`),
    helm: /helm .*(i\/o timeout|timed? ?out)/i,
  },
};

function selectApiFaults(clusterSteps: readonly StepSummary[], env: NodeJS.ProcessEnv): { faults: ApiFault[]; mode: string; seed: number } {
  const setting = env['PVT_API_FAULTS']?.trim() ?? '';
  const seed = env['PVT_FAULT_SEED'] ? Number(env['PVT_FAULT_SEED']) : Math.floor(Date.now() / 86_400_000);
  if (setting === 'all') {
    return { faults: clusterSteps.flatMap((step) => API_FAULT_KINDS.flatMap((kind) => MATRIX_PASSES.map((pass) => ({ step, kind, pass })))), mode: 'all', seed };
  }
  if (setting !== '') {
    const faults = setting.split(',').map((item) => {
      const match = /^(.+):([a-z0-9]+)(?:\+(\d+))?$/.exec(item.trim());
      const step = clusterSteps.find((candidate) => candidate.id === match?.[1]);
      if (!match || !step || !API_FAULT_KINDS.includes(match[2] as ApiFaultKind)) {
        throw new Error(`PVT_API_FAULTS: "${item}" is not <step id>:<${API_FAULT_KINDS.join('|')}>[+<requests let through>] (steps: ${clusterSteps.map((s) => s.id).join(', ')})`);
      }
      return { step, kind: match[2] as ApiFaultKind, pass: Number(match[3] ?? 0) };
    });
    return { faults, mode: 'listed', seed };
  }
  // Steps and depths rotate with the seed, so successive runs land the faults in different places.
  const count = clusterSteps.length;
  return {
    faults: [
      { step: clusterSteps[seed % count]!, kind: '500', pass: seed % 10 },
      // Another step than the 500's (whenever there are two).
      { step: clusterSteps[(seed + Math.max(1, Math.floor(count / 2))) % count]!, kind: 'timeout', pass: (seed >> 1) % 10 },
    ],
    mode: 'one 500 and one timeout',
    seed,
  };
}

/** The full setup's steps as the product lists them (plan --offline: connects to nothing). */
async function planSteps(cli: PinnedCli): Promise<StepSummary[]> {
  const session = await cli.session('api-faults-plan');
  try {
    const labDir = process.env['LAB_DIR'] ?? inject('labDir');
    await session.ok(['profile', 'import', path.join(labDir, 'profile.json')]);
    const { result, data } = await session.json<PlanSummary>(['plan', '--offline']);
    if (result.code !== 0) throw new Error(describeResult(['plan', '--offline', '--json'], result));
    return data.steps;
  } finally {
    await session.dispose();
  }
}

const pinned = await PinnedCli.copy();
const steps = await planSteps(pinned);
// The preflight only checks (it never applies): there is no apply of it to fault in the middle of.
const clusterSteps = steps.filter((step) => step.phase === 'cluster' && step.id !== CLUSTER_PREFLIGHT_STEP_ID);
const { faults, mode, seed } = selectApiFaults(clusterSteps, process.env);
const lanes = new Lanes(LANES, pinned);

interface Outcome {
  fault: string;
  injected: boolean;
  converged: boolean;
  keysLost: number;
  faultedRequests: number;
  firstRun?: string;
  failedStep?: string;
  message?: string;
  note?: string;
}
const outcomes: Outcome[] = [];
let suiteStart = Date.now();
/**
 * The uninterrupted run's end state, made in a lane of its own while the faults run (only their
 * comparisons wait for it): the suite takes as long as its slowest fault, not that plus a setup.
 */
let reference: Promise<Snapshot>;

beforeAll(() => {
  suiteStart = Date.now();
  reference = lanes.withLane(async (lane) => {
    const env = await throughFaultProxy(await lanes.fresh(lane, 'api-reference'));
    const run = await env.session.run(SETUP, RUN_TIMEOUT_MS);
    if (run.code !== 0) throw new Error(`the uninterrupted run failed:\n${describeResult(SETUP, run)}`);
    return endState(env, true);
  });
  reference.catch(() => undefined);
});

afterAll(async () => {
  await lanes.dispose();
  await pinned.dispose();
  const summary = {
    suite: 'faults-k8s-api',
    mode,
    seed,
    faultsPlanned: faults.length,
    faultsInjected: outcomes.filter((outcome) => outcome.injected).length,
    runsConverged: outcomes.filter((outcome) => outcome.converged).length,
    keysLost: outcomes.reduce((sum, outcome) => sum + outcome.keysLost, 0),
    faultedRequests: outcomes.reduce((sum, outcome) => sum + outcome.faultedRequests, 0),
    labInstances: lanes.labsStarted,
    seconds: Math.round((Date.now() - suiteStart) / 1000),
  };
  console.log(
    `Kubernetes API faults:\n  ${outcomes
      .map((o) => `${o.fault}: ${o.injected ? `injected (${o.faultedRequests} requests faulted)` : 'NOT injected'}, ${o.converged ? 'converged' : 'NOT converged'}${o.firstRun ? `; faulted run ${o.firstRun}` : ''}${o.failedStep ? ` at ${o.failedStep}` : ''}${o.message ? `: ${o.message}` : ''}${o.note ? ` [${o.note}]` : ''}`)
      .join('\n  ')}`,
  );
  console.log(`RELIABILITY ${JSON.stringify(summary)}`);
}, 180_000);

/**
 * Points the lane's profile at the lab's fault proxy in front of the real API server
 * (test/lab/kube/fault-proxy.ts), for the product and for Vault's TokenReviews alike; the proxy
 * passes everything through until the switch is on.
 */
async function throughFaultProxy(env: LabEnv): Promise<LabEnv> {
  const proxy = env.lab.state.cluster.faultProxy;
  if (!proxy) throw new Error(`the lab in ${env.lab.state.labDir} has no fault proxy (started by an older lab): run npm run lab:down first`);
  await env.session.ok(['profile', 'set', `cluster.kubeconfig=${proxy.kubeconfig}`, `cluster.apiAddressForVault=${proxy.vaultApiAddress}`]);
  return env;
}

/** Turns the lab's API fault switch on (written whole, then renamed into place). */
async function switchOn(env: LabEnv, setting: FaultSetting): Promise<void> {
  const file = env.lab.state.cluster.faultProxy?.faultsFile ?? path.join(env.lab.state.cluster.dir, FAULTS_FILE_NAME);
  await writeFile(`${file}.tmp`, `${JSON.stringify(setting)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Requests the switch failed or held, from the API server's log. */
async function faultedRequests(env: LabEnv): Promise<number> {
  const log = await readFile(env.lab.state.cluster.log, 'utf8').catch(() => '');
  return log.split('\n').filter((line) => /-> \d{3} \w+ \(fault injected\)$| held \d+ ms \(fault injected\)$/.test(line)).length;
}

function apiFaultTest(fault: ApiFault): void {
  const label = `${fault.step.id}${fault.pass > 0 ? ` +${fault.pass} requests` : ''}: API ${fault.kind === '500' ? '500s' : 'timeouts'}`;
  const { windowMs, setting } = FAULTS[fault.kind];
  it(`${label} for ${windowMs / 1000} s → the run fails with the API and the call named, exit 1; a plain re-run converges, keys kept`, { timeout: 480_000 }, async () => {
    await lanes.withLane(async (lane) => {
      const outcome: Outcome = { fault: label, injected: false, converged: false, keysLost: 0, faultedRequests: 0 };
      outcomes.push(outcome);
      const env = await throughFaultProxy(await lanes.fresh(lane, `api-${fault.kind}-${fault.step.id.replace(/[^a-z0-9]+/g, '-')}`));
      let before = await env.session.run(PHASES_1_2, RUN_TIMEOUT_MS);
      if (before.code !== 0) {
        // Not what this suite tests (the faults come later): said in the summary, then run again as
        // a user would; a second failure stops the test.
        const failed = parseSummary(before)?.steps.find((step) => step.state === 'failed');
        outcome.note = `phases 1-2 needed a second run (${failed ? `${failed.id}: ${failed.error}` : describeResult(PHASES_1_2, before).slice(0, 300)})`;
        before = await env.session.run(PHASES_1_2, RUN_TIMEOUT_MS);
      }
      expect(before.code, describeResult(PHASES_1_2, before)).toBe(0);

      const running = env.session.start(CLUSTER_PHASE);
      let untilMs: number;
      try {
        await running.waitForStderrLine(applyStartLine(fault.step), RUN_TIMEOUT_MS);
        untilMs = Date.now() + windowMs;
        await switchOn(env, setting(untilMs, fault.pass));
      } catch (error) {
        await running.kill();
        throw error;
      }
      // No kill from here on: the run must end by itself (a hang ends as a failure of this test).
      const first = await finish(running, windowMs + RUN_TIMEOUT_MS);
      outcome.firstRun = first.signal ? `killed by ${first.signal}` : `exit ${first.code} after ${(first.ms / 1000).toFixed(1)} s`;
      outcome.faultedRequests = await faultedRequests(env);
      outcome.injected = outcome.faultedRequests > 0;
      const shown = describeResult(CLUSTER_PHASE, first);
      expect(outcome.faultedRequests, `requests faulted by the switch\n${shown}`).toBeGreaterThan(0);
      // helm is the only API client of the install step, and client-go sets no per-request
      // timeout: the real helm waits a stalled API out (its --wait deadline is minutes), so a held
      // request there only slows the run down. That is a run that completes, not a failure.
      const waitedOutByHelm = fault.kind === 'timeout' && fault.step.id === 'cluster.eso-install' && first.code === 0;
      if (waitedOutByHelm) {
        outcome.note = 'helm waited the stalled API out and the run completed';
        expect(parseSummary(first)?.steps.filter((step) => step.state !== 'done'), shown).toEqual([]);
      } else {
        expect(first.code, shown).toBe(1);
        expect(first.stderr, `${shown}\n(no stack trace)`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
        const failed = parseSummary(first)?.steps.find((step) => step.state === 'failed');
        expect(failed, `a failed step in the summary\n${shown}`).toBeDefined();
        outcome.failedStep = failed!.id;
        outcome.message = failed!.error;
        const expected = EXPECTED[fault.kind];
        const byHelm = failed!.id === 'cluster.eso-install' && !expected.product.test(failed!.error ?? '') && expected.helm.test(failed!.error ?? '');
        expect(failed!.error, shown).toMatch(byHelm ? expected.helm : expected.product);
        if (!byHelm) expect(failed!.hint, `${shown}\n(hint)`).toMatch(/run the same command again/);
        expect(first.stderr, shown).toContain(failed!.error!);
        const profile = await env.session.profile();
        expect(profile.lastRun?.result, 'the profile records the failed run').toBe('failed');
        expect(profile.lastRun?.failedStep).toBe(failed!.id);
        if (fault.kind === 'timeout') expect(first.ms, `${shown}\n(the request timeout, not an earlier failure)`).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
      }

      // The fault is over: a plain re-run must converge.
      await sleep(Math.max(0, untilMs - Date.now()));
      const rerun = await env.session.run(SETUP, RUN_TIMEOUT_MS);
      const summary = parseSummary(rerun);
      expect(rerun.code, describeResult(SETUP, rerun)).toBe(0);
      expect(summary?.steps.filter((step) => step.state !== 'done'), summary && stepsLine(summary.steps)).toEqual([]);
      expect(summary?.steps.find((step) => step.id === 'cluster.secret-store')?.detail).toMatch(/Ready=True \(Valid\)/);
      expect(summary?.steps.find((step) => step.id === 'cluster.verify')?.state).toBe('done');
      expect((await env.session.profile()).lastRun?.result).toBe('ok');
      const actual = await endState(env, true);
      const keysProblem = await keysOpenVault(env);
      outcome.keysLost = keysProblem === undefined ? 0 : 1;
      expect(keysProblem, 'the unseal keys and root token in custody open this Vault').toBeUndefined();
      expect(differences(await reference, actual), 'end state differs from the uninterrupted run').toEqual([]);
      outcome.converged = true;
    });
  });
}

describe.concurrent(`Kubernetes API faults mid cluster phase (${mode}, seed ${seed}): ${faults.length}`, () => {
  for (const fault of faults) apiFaultTest(fault);
});
