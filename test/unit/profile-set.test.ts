import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../source/core/errors.js';
import { validateShares } from '../../source/core/validate.js';
import { profileFile } from '../../source/profile/paths.js';
import { ProfileSchema } from '../../source/profile/schema.js';
import { ProfileStore, parseAssignment } from '../../source/profile/store.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

let xdg: TempXdg;
let store: ProfileStore;

beforeEach(() => {
  xdg = useTempXdg();
  store = new ProfileStore();
  store.create('default');
});
afterEach(() => xdg.restore());

function expectRefused(action: () => unknown, pattern: RegExp): InputError {
  const before = readFileSync(profileFile('default'));
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as InputError).message + '\n' + ((caught as InputError).hint ?? '')).toMatch(pattern);
  expect(readFileSync(profileFile('default')).equals(before)).toBe(true);
  return caught as InputError;
}

describe('profile set: values parsed by the schema type at the key', () => {
  it('numbers', () => {
    store.set('default', 'host.port', '2222');
    expect(store.load('default').host.port).toBe(2222);
  });

  it('booleans (true/false/yes/no/on/off)', () => {
    store.set('default', 'vault.autoUnseal', 'no');
    expect(store.load('default').vault.autoUnseal).toBe(false);
    store.set('default', 'vault.autoUnseal', 'TRUE');
    expect(store.load('default').vault.autoUnseal).toBe(true);
  });

  it('arrays as comma lists, and an empty value clears the list', () => {
    store.set('default', 'vault.tls.extraSans', 'vault.lan, 10.0.0.12,*.home.arpa');
    expect(store.load('default').vault.tls.extraSans).toEqual(['vault.lan', '10.0.0.12', '*.home.arpa']);
    store.set('default', 'vault.tls.extraSans', '');
    expect(store.load('default').vault.tls.extraSans).toEqual([]);
  });

  it('enums and strings', () => {
    store.setMany('default', [
      { key: 'host.transport', value: 'local' },
      { key: 'vault.version', value: '2.0.4' },
      { key: 'vault.nodeIp', value: '10.0.0.11' },
    ]);
    const profile = store.load('default');
    expect(profile.host.transport).toBe('local');
    expect(profile.vault.version).toBe('2.0.4');
    expect(profile.vault.nodeIp).toBe('10.0.0.11');
  });

  it('unset an optional field with an empty value', () => {
    store.set('default', 'vault.nodeIp', '10.0.0.11');
    store.set('default', 'vault.nodeIp', '');
    expect(store.load('default').vault.nodeIp).toBeUndefined();
    expect(JSON.parse(readFileSync(profileFile('default'), 'utf8')).vault).not.toHaveProperty('nodeIp');
  });

  it('forgets a pinned host key with host.hostKey= but refuses to set one by hand', () => {
    store.pinHostKey('default', { algorithm: 'ssh-ed25519', fingerprint: `SHA256:${'c'.repeat(43)}` });
    expectRefused(() => store.set('default', 'host.hostKey', 'SHA256:x'), /cannot be set by hand/);
    store.set('default', 'host.hostKey', '');
    expect(store.load('default').host.hostKey).toBeUndefined();
  });

  it('creates a missing profile from the defaults', () => {
    const result = store.set('lab', 'host.address', 'pi.lan');
    expect(result.created).toBe(true);
    expect(store.load('lab').host.address).toBe('pi.lan');
    expect(store.load('lab').host.port).toBe(22);
  });

  it('keeps the values the user did not touch', () => {
    store.set('default', 'host.address', '10.0.0.11');
    store.set('default', 'host.port', '2222');
    expect(store.load('default').host.address).toBe('10.0.0.11');
  });
});

describe('profile set refuses bad input and writes nothing', () => {
  it('unknown key, listing the close ones', () => {
    const error = expectRefused(() => store.set('default', 'host.prot', '22'), /unknown profile key "host\.prot"/);
    expect(error.hint).toContain('host.port');
    expectRefused(() => store.set('default', 'progress', '{}'), /unknown profile key/);
  });

  it('secret-looking key', () => {
    expectRefused(() => store.set('default', 'host.password', 'hunter2'), /looks like a secret: profiles hold no secrets/);
    expectRefused(() => store.set('default', 'vault.rootToken', 'hvs.x'), /looks like a secret/);
  });

  it('port 70000', () => {
    const error = expectRefused(() => store.set('default', 'host.port', '70000'), /host\.port: must be from 1 to 65535/);
    expect(error.field).toBe('host.port');
  });

  it('version with a shell command in it', () => {
    expectRefused(() => store.set('default', 'vault.version', '1.2.3; rm -rf /'), /vault\.version: "1\.2\.3; rm -rf \/" is not a Vault version/);
  });

  it('a number that is not a number, a bool that is not a bool, an enum outside its options', () => {
    expectRefused(() => store.set('default', 'host.port', '22x'), /host\.port must be a number/);
    expectRefused(() => store.set('default', 'vault.autoUnseal', 'maybe'), /must be true or false/);
    expectRefused(() => store.set('default', 'host.auth', 'telnet'), /must be one of agent, key, password/);
  });

  it('an empty value for a required field', () => {
    expectRefused(() => store.set('default', 'host.address', ''), /host\.address cannot be empty[\s\S]*default is "raspberrypi\.local"/);
  });

  it('a list item that is not a SAN', () => {
    expectRefused(() => store.set('default', 'vault.tls.extraSans', 'ok.lan,bad name'), /vault\.tls\.extraSans\[1\]: "bad name" is not a DNS name/);
  });

  it('validates the whole profile: threshold above shares in one command is refused, fixing both passes', () => {
    expectRefused(() => store.set('default', 'vault.keyThreshold', '6'), /key threshold \(6\) cannot be larger than key shares \(5\)/);
    store.setMany('default', [
      { key: 'vault.keyShares', value: '7' },
      { key: 'vault.keyThreshold', value: '6' },
    ]);
    expect(store.load('default').vault.keyThreshold).toBe(6);
  });

  it('a threshold of 1 with several shares is refused, saying why and how to fix it; 1 of 1 and 2 of 5 pass', () => {
    const error = expectRefused(
      () => store.set('default', 'vault.keyThreshold', '1'),
      /vault\.keyThreshold: a key threshold of 1 with 5 key shares lets any single key holder unseal alone.*set vault\.keyThreshold to at least 2 \(e\.g\. 3 of 5\), or vault\.keyShares to 1/,
    );
    expect(error.field).toBe('vault.keyThreshold');
    expectRefused(() => store.setMany('default', [parseAssignment('vault.keyShares=2'), parseAssignment('vault.keyThreshold=1')]), /threshold of 1 with 2 key shares/);
    store.setMany('default', [parseAssignment('vault.keyShares=1'), parseAssignment('vault.keyThreshold=1')]);
    expect(store.load('default').vault).toMatchObject({ keyShares: 1, keyThreshold: 1 });
    store.setMany('default', [parseAssignment('vault.keyShares=5'), parseAssignment('vault.keyThreshold=2')]);
    expect(store.load('default').vault).toMatchObject({ keyShares: 5, keyThreshold: 2 });
  });

  it('the schema refuses 1 of 5 on vault.keyThreshold, so a file or import with it is refused too', () => {
    const parsed = ProfileSchema.safeParse({ vault: { keyShares: 5, keyThreshold: 1 } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: ['vault', 'keyThreshold'], message: expect.stringMatching(/^a key threshold of 1 with 5 key shares lets any single key holder unseal alone/) })]);
    expect(validateShares(5, 1)).toMatch(/the other 4 shares are copies of the same power, not a quorum; set vault\.keyThreshold to at least 2 \(e\.g\. 3 of 5\), or vault\.keyShares to 1$/);
    expect(validateShares(1, 1)).toBeUndefined();
    expect(validateShares(5, 2)).toBeUndefined();
    expect(validateShares(10, 10)).toBeUndefined();
  });

  it('repairs an invalid file when the command fixes every bad field, and says what else is wrong when not', () => {
    const file = profileFile('default');
    writeFileSync(file, JSON.stringify({ host: { port: 0, address: 'bad host' } }));
    const error = expectRefused(() => store.set('default', 'host.port', '22'), /host\.address/);
    expect(error.hint).toMatch(/already has invalid fields/);
    store.setMany('default', [parseAssignment('host.port=22'), parseAssignment('host.address=pi.lan')]);
    expect(store.load('default').host.address).toBe('pi.lan');
  });

  it('parseAssignment keeps "=" inside values and refuses text without one', () => {
    expect(parseAssignment('vault.releaseBaseUrl=https://m.lan/?a=b')).toEqual({ key: 'vault.releaseBaseUrl', value: 'https://m.lan/?a=b' });
    expect(() => parseAssignment('host.port')).toThrow(/is not KEY=VALUE/);
  });
});

describe('profile set on a corrupted file', () => {
  it('refuses and leaves it byte-identical', () => {
    const file = profileFile('default');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '{"host": ');
    expectRefused(() => store.set('default', 'host.port', '22'), /not valid JSON[\s\S]*left untouched/);
  });
});
