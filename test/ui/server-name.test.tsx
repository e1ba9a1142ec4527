/**
 * The server's name on every screen: an OpenBao profile says OpenBao (and its units openbao /
 * openbao-unseal) where a Vault profile says Vault — header, Home (summary, unit rows, seal dialog,
 * log pane), Setup (phase heading, Status pane), the unseal dialog and the help. Each case runs for
 * both servers, and asserts the other server's name is absent: a name written into a screen fails
 * one of them. Every line must fit 80 columns.
 */
import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OPENBAO, otherServer, VAULT, type ServerFlavor } from '../../source/core/server.js';
import { defaultProfile, type Profile } from '../../source/profile/schema.js';
import type { StatusReport } from '../../source/services/status.js';
import type { SealStatus } from '../../source/services/vault.js';
import { App } from '../../source/ui/App.js';
import type { AppDependencies } from '../../source/ui/deps.js';
import { helpLines } from '../../source/ui/screens/HelpScreen.js';
import { initialAppState } from '../../source/ui/state/app-state.js';
import { createTheme } from '../../source/ui/theme.js';
import { vaultStatusReader } from '../../source/ui/vault-status.js';
import { deferred, KEYS, press, renderSized, statusPaneText, tempXdgHome, testDependencies, testStep, waitForFrame, waitForInput, type Rendered, type TempHome } from './harness.js';

vi.mock('ink-spinner', async () => {
  const { Text } = await import('ink');
  const { createElement } = await import('react');
  return { default: () => createElement(Text, null, '@') };
});

const ascii = createTheme({ unicode: false, color: false });
const ADDRESS = 'https://10.0.0.5:8200';
let home: TempHome;
let app: Rendered | undefined;

beforeEach(() => {
  home = tempXdgHome();
});
afterEach(async () => {
  app?.instance.unmount();
  await app?.exited;
  app = undefined;
  home.restore();
});

function profileFor(server: ServerFlavor): Profile {
  const profile = defaultProfile();
  profile.vault.server = server.kind;
  profile.vault.nodeIp = '10.0.0.5';
  return profile;
}

/** What `status` reports for `server`, unsealed, with its units read on the host. */
function reportFor(server: ServerFlavor): StatusReport {
  return {
    schemaVersion: 1,
    profile: 'test',
    server: { kind: server.kind, name: server.name },
    checkedAt: new Date().toISOString(),
    state: 'unsealed',
    exitCode: 0,
    vault: {
      address: ADDRESS,
      reachable: true,
      error: null,
      initialized: true,
      sealed: false,
      unseal: { progress: 0, threshold: 2, shares: 3 },
      version: '2.4.1',
      storageType: 'raft',
      sealType: 'shamir',
      ha: { enabled: true, isSelf: true, leaderAddress: ADDRESS },
      role: 'active',
      certificate: { daysLeft: 364, notAfter: '2027-01-01T00:00:00.000Z', subject: 'CN=node', issuer: 'CN=ca' },
    },
    host: {
      transport: 'ssh pi@10.0.0.5:22',
      reachable: true,
      error: null,
      services: {
        vault: { unit: server.unit, active: 'active', enabled: 'enabled' },
        vaultUnseal: { unit: server.unsealUnit, active: 'inactive', enabled: 'enabled' },
      },
    },
    cluster: null,
    warnings: [],
  };
}

const UNSEALED: SealStatus = { initialized: true, sealed: false, version: '2.4.1', storageType: 'raft', t: 2, n: 3, progress: 0 };

function dependencies(server: ServerFlavor, extra: Partial<AppDependencies> = {}): AppDependencies {
  return { ...testDependencies({ profile: profileFor(server), plan: { steps: [] } }), ...extra };
}

/** The frame without the product's own name (picluster-vault-tui), which is not the server's. */
function withoutProduct(frame: string): string {
  return frame.replaceAll('picluster-vault-tui', '');
}

/** Every name of `server` that must not appear on a screen for the other one. */
function namesOf(server: ServerFlavor): RegExp {
  return server.kind === 'vault' ? /vault/i : /openbao|\bbao\b/i;
}

function expectLinesFit(rendered: Rendered, columns = 80): void {
  for (const frame of rendered.frames) {
    for (const line of stripVTControlCharacters(frame).split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(columns);
  }
}

function lineWith(frame: string, text: string): string {
  return frame.split('\n').find((line) => line.includes(text)) ?? '';
}

const unitLabel = (unit: string) => unit.replace(/\.service$/, '');

describe.each([OPENBAO, VAULT])('$name profile', (server) => {
  const other = otherServer(server);

  it('Home: the header, the summary, the unit rows and the seal dialog name it; the log pane its units', async () => {
    const report = deferred<StatusReport>();
    // A host that never answers: the log pane stays open, connecting, until l stops it.
    const deps = dependencies(server, { homeStatus: () => report.promise, openServices: () => ({ host: () => new Promise(() => undefined), close: async () => undefined }) });
    app = renderSized(<App deps={deps} theme={ascii} initialState={{ app: initialAppState('home') }} />);

    // Before the first reading: the profile's server, its units not asked yet.
    const reading = await waitForFrame(app, (f) => f.includes('[Home]') && f.includes('status...'), 'the home screen reading');
    expect(reading).toContain(`reading ${server.name}'s status...`);
    expect(lineWith(reading, 'picluster-vault-tui')).toMatch(new RegExp(`profile: test \\(${server.name}\\)\\s*$`));
    expect(reading).toMatch(new RegExp(`^Version .* ${unitLabel(server.unit)} +-\\s*$`, 'm'));
    expect(reading).toMatch(new RegExp(`^Storage .* ${unitLabel(server.unsealUnit)} +-\\s*$`, 'm'));
    expect(withoutProduct(reading)).not.toMatch(namesOf(other));

    report.resolve(reportFor(server));
    const frame = await waitForFrame(app, (f) => f.includes('UNSEALED'), 'the reading');
    expect(frame).toContain(`${server.name} API ${ADDRESS}`);
    expect(frame).toMatch(new RegExp(`^Version .* ${unitLabel(server.unit)} +active, enabled\\s*$`, 'm'));
    expect(frame).toMatch(new RegExp(`^Storage .* ${unitLabel(server.unsealUnit)} +inactive, enabled\\s*$`, 'm'));
    // The certificate keeps its days when the date does not fit beside a longer label.
    expect(frame).toMatch(/Certificate +364 days left/);
    expect(frame).toContain(`Press r to re-check every step of the setup against the host and ${server.name}`);
    expect(withoutProduct(frame)).not.toMatch(namesOf(other));

    await waitForInput(app);
    await press(app, 's');
    const question = await waitForFrame(app, (f) => f.includes('Seal '), 'the seal question');
    expect(question).toContain(`Seal ${server.name}?`);
    expect(question.replace(/\s+/g, ' ')).toContain(`${server.name} at ${ADDRESS} stops serving secrets`);
    expect(withoutProduct(question)).not.toMatch(namesOf(other));
    await press(app, 'n');
    await waitForFrame(app, (f) => !f.includes('Seal ') && f.includes('UNSEALED'), 'the question gone');

    await press(app, 'l');
    const logs = await waitForFrame(app, (f) => f.includes('connecting...'), 'the log pane');
    expect(logs).toContain(`Logs: ${unitLabel(server.unit)}, ${unitLabel(server.unsealUnit)}`);
    expect(withoutProduct(logs)).not.toMatch(namesOf(other));
    await press(app, 'l');

    await press(app, '?');
    const help = await waitForFrame(app, (f) => f.includes('[Help]'), 'the help');
    expect(help).toContain(`Unseal ${server.name} (keys from custody`);
    expect(help).toContain(`Seal ${server.name} now (asks first`);
    expect(help).toContain(`Follow the ${unitLabel(server.unit)} and ${unitLabel(server.unsealUnit)} service logs`);
    expect(withoutProduct(help)).not.toMatch(namesOf(other));
    expectLinesFit(app);
  });

  it('Setup: the phase heading and the Status pane name it', async () => {
    const steps = [testStep('host.preflight', 'host', 'Check the host'), testStep('vault.init', 'vault', 'Initialize the server')];
    const deps = {
      ...testDependencies({ profile: profileFor(server), plan: { steps } }),
      vaultStatus: vaultStatusReader({ connect: async () => ({ sealStatus: async () => UNSEALED, unsealReset: async () => UNSEALED }), readCa: async () => 'PEM' }),
    };
    app = renderSized(<App deps={deps} theme={ascii} />);
    const frame = await waitForFrame(app, (f) => statusPaneText(f).includes('State unsealed'), 'the setup screen with a reading');
    // The vault phase's heading (its id stays `vault`) is the server's name.
    expect(frame).toMatch(new RegExp(`^${server.name}(\\s|$)`, 'm'));
    expect(frame).toMatch(/^Host(\s|$)/m);
    expect(statusPaneText(frame)).toContain(`${server.name} latest at 10.0.0.5`);
    expect(lineWith(frame, 'picluster-vault-tui')).toMatch(new RegExp(`\\(${server.name}\\)\\s*$`));
    expect(withoutProduct(frame)).not.toMatch(namesOf(other));
    expectLinesFit(app);
  });

  it('the unseal dialog names it', async () => {
    const step = testStep('vault.unseal', 'vault', 'Unseal the server', {
      run: async (ctx) => {
        await ctx.prompt.secret(`Unseal key 1 of 2 for ${ADDRESS}:`);
      },
    });
    app = renderSized(<App deps={{ ...testDependencies({ profile: profileFor(server), plan: { steps: [step] } }) }} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.enter);
    const dialog = await waitForFrame(app, (f) => f.includes('Keys accepted'), 'the unseal dialog');
    expect(dialog).toContain(`Unseal ${server.name} (key hidden, never saved)`);
    expect(withoutProduct(dialog)).not.toMatch(namesOf(other));
    await press(app, KEYS.escape);
    expectLinesFit(app);
  });

  it('the help lines name it and its units, never the other server', () => {
    const text = helpLines(server)
      .map((line) => (line.kind === 'key' ? line.text : line.kind === 'title' ? line.text : ''))
      .join('\n');
    expect(text).toContain(`Unseal ${server.name} now (only the unseal step`);
    expect(text).toContain(`${unitLabel(server.unsealUnit)} service logs`);
    expect(text).not.toMatch(namesOf(other));
  });
});
