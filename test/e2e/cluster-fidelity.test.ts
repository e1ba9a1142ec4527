/**
 * What real servers and clusters do that a first setup never meets: each failure mode users of
 * this setup hit (a stuck deletion, a stopped controller, a helm release left pending, nodes ESO
 * has no image for, clocks apart, an address pods cannot reach) reproduced on one fresh lab — the
 * real OpenBao server on the lab host, the real Kubernetes control plane and the real ESO and helm — with
 * what the CLI says about it and how it recovers. The lab is set up once; every case leaves it
 * working for the next.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { describeResult } from './support/cli.js';
import { ClusterLabs, setup, type ClusterSetup } from './support/cluster-lab.js';
import type { FidelityLab } from './fidelity/context.js';
import { describeHelmPending } from './fidelity/helm-pending.js';
import { describePreflightFindings } from './fidelity/preflight.js';
import { describeStoreFailures } from './fidelity/store.js';
import { describeVerifyFailures } from './fidelity/verify.js';

const labs = new ClusterLabs();
afterAll(() => labs.dispose(), 120_000);

let prepared: ClusterSetup | undefined;
const fidelity: FidelityLab = {
  get s(): ClusterSetup {
    if (!prepared) throw new Error('the fidelity lab was not set up (the first test failed)');
    return prepared;
  },
};

describe('the fidelity lab', () => {
  it('is set up from a bare host with `setup --yes` (the real OpenBao server)', async () => {
    const s = await labs.prepare('fidelity', { server: 'openbao' });
    const { result, summary } = await setup(s, ['setup', '--yes'], { PATH: s.helmPath }, 300_000);
    expect(result.code, describeResult(['setup', '--yes'], result)).toBe(0);
    expect(summary.result).toBe('ok');
    prepared = s;
  }, 360_000);
});

describePreflightFindings(fidelity);
describeStoreFailures(fidelity);
describeVerifyFailures(fidelity);
// Last: it deletes ESO's controller, and a failure there would leave the next cases without ESO.
describeHelmPending(fidelity);
