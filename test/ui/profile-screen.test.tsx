/**
 * The Profile form: every field is validated with the shared validators when accepted, the message
 * sits next to the field, and `s` saves only a profile that passes ProfileSchema (real ProfileStore,
 * temp XDG dirs).
 */
import { statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../source/profile/schema.js';
import { App } from '../../source/ui/App.js';
import { fieldLabel, FIELDS, readValues, type FieldId } from '../../source/ui/state/profile-form.js';
import { createTheme } from '../../source/ui/theme.js';
import { KEYS, press, renderSized, tempXdgHome, testDependencies, waitForFrame, waitForInput, type Rendered, type TempHome } from './harness.js';

const ascii = createTheme({ unicode: false, color: false });
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

function lineWith(frame: string, text: string): string {
  return frame.split('\n').find((line) => line.includes(text)) ?? '';
}

function labelOf(id: FieldId): string {
  const field = FIELDS.find((candidate) => candidate.id === id);
  if (!field) throw new Error(`no field ${id}`);
  return fieldLabel(field, readValues(defaultProfile()));
}

/** Moves the selection from field `from` to field `to` with j/k; returns `to`. */
async function moveTo(rendered: Rendered, from: number, to: FieldId): Promise<number> {
  const target = FIELDS.findIndex((field) => field.id === to);
  const key = target > from ? 'j' : 'k';
  for (let index = 0; index < Math.abs(target - from); index++) await press(rendered, key);
  await waitForFrame(rendered, (f) => lineWith(f, labelOf(to)).startsWith('> '), `${to} to be selected`);
  return target;
}

/** Replaces the selected text field's value: enter, clear, the value in one chunk (as a paste arrives), enter. */
async function typeInto(rendered: Rendered, value: string): Promise<void> {
  await press(rendered, KEYS.enter, KEYS.ctrlU, value, KEYS.enter);
}

describe('Profile screen', () => {
  it('rejects bad input with a message next to the field and saves nothing', async () => {
    const deps = testDependencies({ saved: false });
    app = renderSized(<App deps={deps} theme={ascii} />);
    // A new profile opens on the form.
    await waitForFrame(app, (f) => f.includes('new profile, not saved yet'), 'the profile form');
    await waitForInput(app);

    let at = await moveTo(app, 0, 'host.address');
    await typeInto(app, 'a b');
    let frame = await waitForFrame(app, (f) => lineWith(f, 'Host address').includes('!'), 'the address message');
    expect(lineWith(frame, 'Host address')).toMatch(/Host address\s+a b\s+! "a b" is not a hostname or IP/);

    at = await moveTo(app, at, 'host.port');
    await typeInto(app, '70000');
    frame = await waitForFrame(app, (f) => lineWith(f, 'SSH port').includes('!'), 'the port message');
    expect(lineWith(frame, 'SSH port')).toMatch(/SSH port\s+70000\s+! port must be a whole number/);
    // The full message of the selected field is shown under the form.
    expect(frame).toContain('! port must be a whole number from 1 to 65535, got 70000');

    at = await moveTo(app, at, 'vault.version');
    await typeInto(app, '1.2.3; rm -rf /');
    frame = await waitForFrame(app, (f) => lineWith(f, 'Vault version').includes('! '), 'the version message');
    expect(lineWith(frame, 'Vault version')).toMatch(/Vault version\s+1\.2\.3; rm -rf \/\s+! "1\.2\.3; rm -rf \/" is not a Vault/);

    at = await moveTo(app, at, 'vault.keyShares');
    await typeInto(app, '3');
    at = await moveTo(app, at, 'vault.keyThreshold');
    await typeInto(app, '5');
    frame = await waitForFrame(app, (f) => lineWith(f, 'Key threshold').includes('!'), 'the threshold message');
    expect(lineWith(frame, 'Key threshold')).toMatch(/Key threshold\s+5\s+! key threshold \(5\) cannot be larger/);
    expect(lineWith(frame, 'Key shares')).not.toContain('!');

    await press(app, 's');
    frame = await waitForFrame(app, (f) => f.includes('Not saved'), 'the refusal');
    expect(frame).toContain('Not saved: 4 fields marked invalid.');
    expect(deps.store.exists('test')).toBe(false);

    // Fixing the shares makes the threshold valid again (it is re-checked with the shares).
    at = await moveTo(app, FIELDS.findIndex((field) => field.id === 'host.address'), 'vault.keyShares');
    await typeInto(app, '5');
    frame = await waitForFrame(app, (f) => !lineWith(f, 'Key threshold').includes('!'), 'the threshold to become valid');
    expect(deps.store.exists('test')).toBe(false);
  });

  it('keeps a saved profile unchanged when the form is invalid', async () => {
    const deps = testDependencies();
    const before = deps.store.load('test');
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Profile]'), 'the profile screen');
    await moveTo(app, 0, 'host.port');
    await typeInto(app, '0');
    await press(app, 's');
    await waitForFrame(app, (f) => f.includes('Not saved: 1 field marked invalid.'), 'the refusal');
    expect(deps.store.load('test')).toEqual(before);
  });

  it('accepts good input and saves it to the profile file (0600)', async () => {
    const deps = testDependencies({ saved: false });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForFrame(app, (f) => f.includes('new profile'), 'the profile form');
    await waitForInput(app);

    let at = await moveTo(app, 0, 'host.address');
    await typeInto(app, '10.0.0.11');
    at = await moveTo(app, at, 'host.port');
    await typeInto(app, '2222');
    at = await moveTo(app, at, 'host.auth');
    await press(app, KEYS.enter); // agent -> key
    await waitForFrame(app, (f) => lineWith(f, 'SSH auth').includes('< key >'), 'auth to switch to key');
    at = await moveTo(app, at, 'host.keyFile');
    await typeInto(app, '~/.ssh/id_ed25519');
    at = await moveTo(app, at, 'vault.version');
    await typeInto(app, '2.0.4');
    at = await moveTo(app, at, 'vault.nodeIp');
    await typeInto(app, '10.0.0.11');
    at = await moveTo(app, at, 'vault.tls.extraSans');
    await typeInto(app, 'vault.lan, 10.0.0.12');
    at = await moveTo(app, at, 'vault.keyThreshold');
    await typeInto(app, '2');
    at = await moveTo(app, at, 'cluster.apiAddressForVault');
    await typeInto(app, 'https://10.0.0.10:6443');
    const filled = await waitForFrame(app, (f) => f.includes('https://10.0.0.10:6443'), 'the last value');
    expect(filled).not.toMatch(/ ! /);

    await press(app, 's');
    const saved = await waitForFrame(app, (f) => f.includes('Saved to'), 'the save');
    expect(saved).toMatch(/Profile test -+ saved$/m);
    const profile = deps.store.load('test');
    expect(profile.host).toMatchObject({ address: '10.0.0.11', port: 2222, auth: 'key', keyFile: '~/.ssh/id_ed25519' });
    expect(profile.vault).toMatchObject({ version: '2.0.4', nodeIp: '10.0.0.11', keyShares: 5, keyThreshold: 2 });
    expect(profile.vault.tls.extraSans).toEqual(['vault.lan', '10.0.0.12']);
    expect(profile.cluster.apiAddressForVault).toBe('https://10.0.0.10:6443');
    expect(statSync(deps.store.file('test')).mode & 0o777).toBe(0o600);
  });

  it('offers the server (vault / openbao), names it in the form, and saves a valid OpenBao profile whose default paths follow it', async () => {
    // As older versions saved it: Vault's defaults spelled out, next to one directory of the user's own.
    const before = defaultProfile();
    before.vault.configDir = '/srv/secrets/config';
    before.vault.dataDir = '/var/lib/vault';
    before.vault.releaseBaseUrl = 'https://releases.hashicorp.com';
    const deps = testDependencies({ profile: before });
    expect(deps.store.load('test').vault).toMatchObject({ server: 'vault', dataDir: '/var/lib/vault' });
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.tab);
    await waitForFrame(app, (f) => f.includes('[Profile]'), 'the profile screen');
    await moveTo(app, 0, 'vault.server');

    let frame = await waitForFrame(app, (f) => lineWith(f, 'Software').includes('< vault >'), 'the server choice');
    expect(frame).toMatch(/^Server$/m);
    expect(frame).toMatch(/^ {2}Vault version +latest/m);
    // What differs, whole in two rows at 80 columns.
    expect(frame.replace(/\s+/g, ' ')).toContain(
      "vault: HashiCorp Vault. openbao: the Linux Foundation's MPL-2.0 fork (binary bao, user openbao, /etc/openbao, /var/lib/openbao, releases from its GitHub).",
    );
    expect(lineWith(frame, 'picluster-vault-tui')).toMatch(/\(Vault\)\s*$/);

    await press(app, KEYS.enter);
    frame = await waitForFrame(app, (f) => lineWith(f, 'Software').includes('< openbao >'), 'openbao chosen');
    // The form names the server it describes at once; the rest of the app once it is saved.
    expect(frame).toMatch(/^ {2}OpenBao version +latest/m);
    expect(frame).not.toContain('Vault version');
    expect(frame.replace(/\s+/g, ' ')).toContain("Once saved, the profile sets up OpenBao: directories and release site left at Vault's defaults follow it; a host that runs Vault is refused, not migrated.");
    expect(lineWith(frame, 'picluster-vault-tui')).toMatch(/\(Vault\)\s*$/);

    await press(app, 's');
    frame = await waitForFrame(app, (f) => f.includes('Saved ('), 'the save');
    expect(frame.replace(/\s+/g, ' ')).toContain("Saved (vault.dataDir, vault.releaseBaseUrl now follow OpenBao's defaults) to ");
    expect(lineWith(frame, 'picluster-vault-tui')).toMatch(/\(OpenBao\)\s*$/);
    // A valid profile (load parses it with ProfileSchema): OpenBao, the user's directory kept, the defaults unset.
    const saved = deps.store.load('test');
    expect(saved.vault.server).toBe('openbao');
    expect(saved.vault.configDir).toBe('/srv/secrets/config');
    expect(saved.vault.dataDir).toBeUndefined();
    expect(saved.vault.releaseBaseUrl).toBeUndefined();
    for (const line of frame.split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(80);

    // And back: enter cycles to vault again.
    await press(app, KEYS.enter);
    frame = await waitForFrame(app, (f) => lineWith(f, 'Software').includes('< vault >'), 'vault chosen again');
    expect(frame).toMatch(/^ {2}Vault version +latest/m);
  });

  it('esc cancels an edit and keeps the previous value; typing q while editing types a q', async () => {
    const deps = testDependencies();
    app = renderSized(<App deps={deps} theme={ascii} />);
    await waitForInput(app);
    await press(app, KEYS.tab);
    await moveTo(app, 0, 'host.user');
    await press(app, KEYS.enter, KEYS.ctrlU, 'q', '?');
    await waitForFrame(app, (f) => /SSH user\s+q\?_/.test(lineWith(f, 'SSH user')), 'q? typed into the field');
    expect(app.hasExited()).toBe(false);
    await press(app, KEYS.escape);
    await waitForFrame(app, (f) => /SSH user\s+pi\b/.test(lineWith(f, 'SSH user')), 'the previous value');
  });
});
