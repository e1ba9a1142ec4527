/**
 * What cluster.preflight finds before anything is created, against the real cluster: a node ESO
 * publishes no image for (a 32-bit Raspberry Pi OS node, registered as the kubelet would: a Node
 * whose nodeInfo says arm), the Kubernetes API's clock further from the Vault host's than Vault's
 * 150 s JWT leeway and within it (the API's Date header as the lab's fault proxy moves it: all a
 * client sees of the API's clock), and the Vault address ESO will be given (the lab's loopback one,
 * which a real pod could not reach).
 */
import { rename, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { describeResult } from '../support/cli.js';
import { kubectl, kubectlOk, setup, stepOf } from '../support/cluster-lab.js';
import type { FidelityLab } from './context.js';

const ARM_NODE = 'fidelity-pi-armhf';

export function describePreflightFindings(fidelity: FidelityLab): void {
  const s = () => fidelity.s;

  /** The lab's API fault switch (test/lab/kube/faults.ts), written whole then renamed into place. */
  async function apiDateOffset(seconds: number | undefined): Promise<void> {
    const file = s().lab.state.cluster.faultProxy?.faultsFile;
    if (!file) throw new Error('the lab has no API fault proxy: npm run lab:down, then run again');
    const setting = seconds === undefined ? { status: 500, untilMs: 0 } : { dateOffsetSeconds: seconds, untilMs: Date.now() + 600_000 };
    await writeFile(`${file}.tmp`, `${JSON.stringify(setting)}\n`);
    await rename(`${file}.tmp`, file);
  }

  /** The product talks to the API through the fault proxy (Vault keeps its own address: no drift). */
  async function throughProxy<T>(body: () => Promise<T>): Promise<T> {
    const proxy = s().lab.state.cluster.faultProxy;
    if (!proxy) throw new Error('the lab has no API fault proxy');
    await s().session.ok(['profile', 'set', `cluster.kubeconfig=${proxy.kubeconfig}`]);
    try {
      return await body();
    } finally {
      await apiDateOffset(undefined);
      await s().session.ok(['profile', 'set', `cluster.kubeconfig=${s().lab.state.cluster.kubeconfig}`]);
    }
  }

  describe('cluster.preflight: node architectures, clocks, the address ESO uses', () => {
    it('a 32-bit ARM node beside the 64-bit ones: warned by name with ESO\'s architectures; the address ESO will use is shown, its loopback warned', async () => {
      const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: ARM_NODE, labels: { 'kubernetes.io/arch': 'arm', 'kubernetes.io/os': 'linux' } }, spec: { unschedulable: true }, status: { nodeInfo: { architecture: 'arm', operatingSystem: 'linux', kubeletVersion: 'v1.36.3', machineID: '', systemUUID: '', bootID: '', kernelVersion: '6.6.51+rpt-rpi-v7', osImage: 'Raspbian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://2.0.5', kubeProxyVersion: '' } } };
      // Nodes take their status on create (a kubelet registers so).
      await kubectlOk(s().lab, ['create', '-f', '-'], JSON.stringify(node));
      try {
        expect((await kubectlOk(s().lab, ['get', 'node', ARM_NODE, '-o', 'jsonpath={.status.nodeInfo.architecture}'])).trim()).toBe('arm');
        const { result, summary } = await setup(s(), ['setup', '--phase', 'cluster', '--yes']);
        expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(0);
        expect(result.stderr).toContain(`External Secrets Operator publishes no image for ${ARM_NODE} (arm) (only amd64, arm64, ppc64le, s390x)`);
        const detail = stepOf(summary, 'cluster.preflight').detail ?? '';
        expect(detail).toMatch(/\d+ nodes: .*arm ×1/);
        expect(detail).toMatch(/ESO will reach it at https:\/\/127\.0\.0\.1:\d+/);
        expect(result.stderr).toMatch(/https:\/\/127\.0\.0\.1:\d+ is a loopback address: inside an ESO pod it is the pod itself/);
      } finally {
        await kubectl(s().lab, ['delete', 'node', ARM_NODE, '--ignore-not-found']);
      }
    }, 300_000);

    it("the API's clock 200 s ahead of the Vault host's: refused before anything is created, with the figures and NTP", async () => {
      await throughProxy(async () => {
        await apiDateOffset(200);
        const { result, summary } = await setup(s(), ['setup', '--phase', 'cluster', '--yes']);
        expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(1);
        const step = stepOf(summary, 'cluster.preflight');
        expect(step.state).toBe('failed');
        expect(step.error).toMatch(/^the OpenBao host's clock is (199|200|201) s behind the Kubernetes API's, more than the 150 s Vault allows .*every login of External Secrets Operator would be refused/);
        expect(step.hint).toContain('timedatectl set-ntp true');
        expect(stepOf(summary, 'cluster.reviewer-account').state).not.toBe('done');
      });
    }, 300_000);

    it("90 s apart: warned with the figures, and the phase goes on", async () => {
      await throughProxy(async () => {
        await apiDateOffset(-90);
        const { result } = await setup(s(), ['setup', '--phase', 'cluster', '--yes']);
        expect(result.code, describeResult(['setup', '--phase', 'cluster'], result)).toBe(0);
        expect(result.stderr).toMatch(/the OpenBao host's clock is (89|90|91) s ahead of the Kubernetes API's: logins still work within Vault's 150 s leeway/);
      });
    }, 300_000);
  });
}
