/**
 * A helm killed in the middle of an upgrade, for real: the lab's helm runs `upgrade --wait` on the
 * ESO release and is SIGKILLed once it has written the release record pending-upgrade (as a dropped
 * SSH session or an OOM kill does). From then on helm refuses every upgrade ("another operation
 * (install/upgrade/rollback) is in progress"). With ESO's controller Deployment deleted (so
 * that cluster.eso-install has to call helm), `setup` stops with the pending release, its history and the
 * rollback command, changing nothing; `setup --recover-helm` rolls it back to the last deployed
 * revision and installs as usual.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { describeResult } from '../support/cli.js';
import { helmEnvironment, kubectlOk, setup, stepOf } from '../support/cluster-lab.js';
import type { FidelityLab } from './context.js';

const RELEASE = 'external-secrets';
const NAMESPACE = 'external-secrets';

interface Listed {
  name: string;
  status: string;
  revision: string | number;
}

export function describeHelmPending(fidelity: FidelityLab): void {
  const s = () => fidelity.s;
  const kube = () => ['--kubeconfig', s().lab.state.cluster.kubeconfig, '--kube-context', s().lab.state.cluster.context];
  const helmBin = () => path.join(s().lab.state.helmBinDir, 'helm');
  const env = () => ({ ...process.env, ...helmEnvironment(s(), path.join(s().session.home, 'helm-killed')) });

  async function helmJson(args: string[]): Promise<Listed[]> {
    const child = spawn(helmBin(), [...args, '--output', 'json', ...kube()], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    return out.trim() ? (JSON.parse(out) as Listed[] | null) ?? [] : [];
  }

  describe('a helm release left pending-upgrade by a killed helm', () => {
    it('setup stops with the history and the rollback command; --recover-helm rolls back and installs', async () => {
      const before = (await helmJson(['list', '-n', NAMESPACE])).find((row) => row.name === RELEASE);
      expect(before?.status).toBe('deployed');
      // A real upgrade (a changed pod label makes --wait wait for a rollout), killed once its record is pending.
      const upgrade = spawn(helmBin(), ['upgrade', RELEASE, s().lab.state.esoChart.file, '-n', NAMESPACE, '--reuse-values', '--set', `podLabels.fidelity=k${Date.now()}`, '--wait', '--timeout', '300s', ...kube()], { env: env(), stdio: 'ignore' });
      const exited = new Promise((resolve) => upgrade.on('close', resolve));
      const deadline = Date.now() + 60_000;
      let pending: Listed | undefined;
      while (!pending && Date.now() < deadline) {
        pending = (await helmJson(['list', '-n', NAMESPACE, '--pending'])).find((row) => row.name === RELEASE);
        if (!pending) await sleep(50);
      }
      upgrade.kill('SIGKILL');
      await exited;
      expect(pending?.status, 'helm never recorded the upgrade as pending').toBe('pending-upgrade');
      expect((await helmJson(['list', '-n', NAMESPACE, '--pending'])).find((row) => row.name === RELEASE)?.status).toBe('pending-upgrade');
      // ESO's controller gone, so that cluster.eso-install calls helm (a ready ESO is left alone;
      // a Deployment scaled to 0 counts as installed there, and helm would not scale it back).
      await kubectlOk(s().lab, ['-n', NAMESPACE, 'delete', 'deployment', RELEASE, '--wait=true']);

      const stopped = await setup(s(), ['setup', '--phase', 'cluster', '--yes']);
      expect(stopped.result.code, describeResult(['setup', '--phase', 'cluster'], stopped.result)).toBe(1);
      const step = stepOf(stopped.summary, 'cluster.eso-install');
      expect(step.state).toBe('failed');
      expect(step.error).toMatch(new RegExp(`^helm release ${NAMESPACE}/${RELEASE} is left pending-upgrade at revision ${Number(pending!.revision)} .*the last deployed revision is ${Number(before!.revision)} `));
      expect(step.hint).toContain(`helm rollback ${RELEASE} ${Number(before!.revision)} -n ${NAMESPACE}`);
      expect(step.hint).toContain('--recover-helm');
      // The history table, on stderr.
      expect(stopped.result.stderr).toMatch(/REVISION\s+UPDATED\s+STATUS\s+CHART/);
      // Nothing was changed: still pending.
      expect((await helmJson(['list', '-n', NAMESPACE, '--pending'])).find((row) => row.name === RELEASE)?.status).toBe('pending-upgrade');

      const recovered = await setup(s(), ['setup', '--phase', 'cluster', '--yes', '--recover-helm'], { PATH: s().helmPath }, 600_000);
      expect(recovered.result.code, describeResult(['setup', '--phase', 'cluster', '--recover-helm'], recovered.result)).toBe(0);
      expect(stepOf(recovered.summary, 'cluster.eso-install').outcome).toBe('applied');
      const history = await helmJson(['history', RELEASE, '-n', NAMESPACE]);
      const statuses = history.map((row) => row.status);
      expect(statuses.at(-1)).toBe('deployed');
      // The real helm (3.21) leaves the killed revision pending-upgrade in the history after the
      // rollback: only the newest revision decides, and helm no longer lists the release as pending.
      expect(statuses.filter((status) => status === 'pending-upgrade').length).toBeLessThanOrEqual(1);
      expect((await helmJson(['list', '-n', NAMESPACE, '--pending'])).find((row) => row.name === RELEASE)).toBeUndefined();
      expect(history.some((row) => /Rollback to/.test((row as unknown as { description: string }).description))).toBe(true);
      console.log(`RELIABILITY ${JSON.stringify({ suite: 'helm-pending', pendingRevision: Number(pending!.revision), history: history.map((row) => `${row.revision}:${row.status}`) })}`);
    }, 900_000);
  });
}
