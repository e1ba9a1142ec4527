// The ESO chart version cluster.eso-install installs: unset, the tested default (0.16.2, the version
// the end-to-end suite installs); set, the profile's (a leading v dropped). Through the step itself,
// with a stand-in `helm` that records its arguments and a cluster double that has no ESO until the
// `upgrade --install` ran. `profile keys` and `profile show` say what unset means.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StepContext } from '../../source/core/step.js';
import type { Output } from '../../source/cli/output.js';
import { style } from '../../source/cli/color.js';
import { DEFAULT_ESO_CHART_VERSION, esoChartVersionOf, ProfileSchema, type Profile } from '../../source/profile/schema.js';
import type { ClusterClient } from '../../source/services/cluster.js';
import { esoInstallStep } from '../../source/steps/cluster/eso-install.js';
import { ClusterSession } from '../../source/steps/cluster/session.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

const FAKE_HELM = `#!/bin/sh
echo "$*" >> "$FAKE_HELM_DIR/calls"
case "$1" in
  list|history) echo '[]' ;;
esac
`;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'eso-chart-version-'));
  await writeFile(path.join(dir, 'helm'), FAKE_HELM, { mode: 0o755 });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function calls(): string[] {
  const file = path.join(dir, 'calls');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

/** No ESO until helm's `upgrade --install` was called; then its CRDs (v1) and a ready controller. */
function clusterDouble(): ClusterClient {
  const installed = (): boolean => calls().some((call) => call.startsWith('upgrade --install'));
  const controller = {
    metadata: { name: 'external-secrets', namespace: 'external-secrets', labels: { 'app.kubernetes.io/name': 'external-secrets', 'app.kubernetes.io/managed-by': 'Helm' } },
    spec: { replicas: 1 },
    status: { readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 },
  };
  return {
    kubeconfigPath: '/k/config',
    context: 'lab',
    readPrivileged: false,
    exportKubeconfig: () => '',
    get: async (ref: { name: string }) => (installed() ? { metadata: { name: ref.name }, spec: { versions: [{ name: 'v1', served: true }] } } : undefined),
    list: async (_apiVersion: string, _kind: string, options: { namespace?: string } = {}) => (installed() && options.namespace ? [controller] : []),
  } as unknown as ClusterClient;
}

function context(profile: Profile): { ctx: StepContext; logs: string[] } {
  const logs: string[] = [];
  const log = (level: string) => (text: string) => logs.push(`${level}: ${text}`);
  const ctx = {
    profileName: 'default',
    profile,
    log: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') },
    signal: new AbortController().signal,
    prompt: {},
    present: () => undefined,
    registerSecret: () => undefined,
  } as unknown as StepContext;
  return { ctx, logs };
}

async function install(cluster: Record<string, unknown>): Promise<{ upgrade: string | undefined; planned: string }> {
  const profile = ProfileSchema.parse({ cluster });
  const step = esoInstallStep(new ClusterSession({ open: async () => clusterDouble(), helmEnv: { PATH: `${dir}:/usr/bin:/bin`, FAKE_HELM_DIR: dir } }));
  const { ctx } = context(profile);
  const planned = step.describe(ctx).map((entry) => entry.summary).join('\n');
  await step.apply(ctx);
  return { upgrade: calls().find((call) => call.startsWith('upgrade --install')), planned };
}

describe('the ESO chart version', () => {
  it('is the tested 0.16.2 when cluster.esoChartVersion is unset, and unset is not written into the profile', async () => {
    expect(DEFAULT_ESO_CHART_VERSION).toBe('0.16.2');
    expect(ProfileSchema.parse({}).cluster.esoChartVersion).toBeUndefined();
    expect(esoChartVersionOf({})).toBe('0.16.2');
    const { upgrade, planned } = await install({});
    expect(upgrade).toMatch(/^upgrade --install external-secrets external-secrets\/external-secrets --namespace external-secrets --create-namespace --version 0\.16\.2 --set installCRDs=true --wait --timeout 600s/);
    expect(planned).toContain('--create-namespace --version 0.16.2 --set installCRDs=true --wait');
  });

  it('is the profile value when set (a leading v dropped)', async () => {
    expect(esoChartVersionOf({ esoChartVersion: '0.20.4' })).toBe('0.20.4');
    expect(esoChartVersionOf({ esoChartVersion: 'v1.1.0' })).toBe('1.1.0');
    const { upgrade, planned } = await install({ esoChartVersion: 'v0.17.0' });
    expect(upgrade).toContain(' --version 0.17.0 ');
    expect(upgrade).not.toContain('0.16.2');
    expect(planned).toContain('--version 0.17.0 ');
  });
});

describe('profile keys and profile show say what an unset cluster.esoChartVersion means', () => {
  let xdg: TempXdg;
  beforeEach(() => {
    xdg = useTempXdg();
  });
  afterEach(() => xdg.restore());

  function recording(): { output: Output; out: string[]; json: unknown[] } {
    const out: string[] = [];
    const json: unknown[] = [];
    const output: Output = { out: (text) => void out.push(text), json: (value) => void json.push(value), err: () => undefined, outStyle: style(false), errStyle: style(false) };
    return { output, out, json };
  }

  it('keys: 0.16.2 in the DEFAULT column and in --json, still optional', async () => {
    const { profileKeys } = await import('../../source/cli/profile.js');
    const text = recording();
    profileKeys({}, text.output);
    expect(text.out.find((line) => line.startsWith('cluster.esoChartVersion'))).toMatch(/^cluster\.esoChartVersion\s+string\s+0\.16\.2$/);
    // A key with no default of either kind still says (optional).
    expect(text.out.find((line) => line.startsWith('cluster.esoChartRepository '))).toMatch(/\(optional\)$/);
    const json = recording();
    profileKeys({ json: true }, json.output);
    expect((json.json[0] as { key: string }[]).find((field) => field.key === 'cluster.esoChartVersion')).toEqual({ key: 'cluster.esoChartVersion', type: 'string', optional: true, default: '0.16.2' });
  });

  it('show: "(not set: 0.16.2)" while unset, the profile value once set', async () => {
    const { profileInit, profileSet, profileShow } = await import('../../source/cli/profile.js');
    const global = { profile: 'default', color: false };
    profileInit(global, recording().output);
    const before = recording();
    profileShow(global, {}, before.output);
    expect(before.out.find((line) => line.startsWith('cluster.esoChartVersion'))).toMatch(/^cluster\.esoChartVersion\s+\(not set: 0\.16\.2\)$/);
    profileSet(global, ['cluster.esoChartVersion=0.20.4'], recording().output);
    const after = recording();
    profileShow(global, {}, after.output);
    expect(after.out.find((line) => line.startsWith('cluster.esoChartVersion'))).toMatch(/^cluster\.esoChartVersion\s+0\.20\.4$/);
  });
});
