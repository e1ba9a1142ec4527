/**
 * Cancelling a headless `setup` with a signal, as a user does with Ctrl+C or a service manager with
 * SIGTERM: the running step is cancelled, the summary is still printed (result `cancelled`, exit
 * 130), the profile records the run as cancelled at that step, and a plain re-run resumes and
 * completes. One signal must be enough and must not end the process at once (a second one, later,
 * means "stop now").
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CliSession, describeResult, type SetupSummary } from './support/cli.js';
import { FreshLabs } from './support/labs.js';

const RUN_TIMEOUT_MS = 180_000;
const labs = new FreshLabs();
const sessions: CliSession[] = [];

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.dispose()));
  await labs.downAll();
}, 120_000);

describe('setup cancelled by a signal', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`one ${signal} during a step: the step is cancelled, the summary printed, exit 130, and a re-run completes`, async () => {
      const lab = await labs.get(`cancel-${signal.toLowerCase()}`);
      const session = await CliSession.create(`cancel-${signal}`);
      sessions.push(session);
      await session.ok(['profile', 'import', lab.state.profileFile]);
      const running = session.start(['setup', '--phase', 'host', '--yes', '--json']);
      // The binary step downloads and unpacks on the host: long enough to be interrupted in the middle.
      const started = await running.waitForStderrLine(/^\[\d+\/\d+\] Install the Vault binary \(SHA-256 verified\) \.\.\.$/, RUN_TIMEOUT_MS);
      await running.waitForStderrLine(/^ {6}\S/, 60_000, started.end);
      process.kill(running.pid, signal);
      const result = await running.exited;
      expect(result.code, describeResult(['setup'], result)).toBe(130);
      expect(result.stderr).toContain(`${signal}: cancelling the running step`);
      const summary = JSON.parse(result.stdout) as SetupSummary;
      expect(summary.result).toBe('cancelled');
      expect(summary.steps.find((step) => step.id === 'host.binary')?.state).not.toBe('done');
      const profile = await session.profile();
      expect(profile.lastRun).toMatchObject({ result: 'cancelled' });
      expect(profile.lastRun?.endedAt).toBeTruthy();

      const again = await session.run(['setup', '--phase', 'host', '--yes'], RUN_TIMEOUT_MS);
      expect(again.code, describeResult(['setup'], again)).toBe(0);
    }, RUN_TIMEOUT_MS * 2);
  }
});
