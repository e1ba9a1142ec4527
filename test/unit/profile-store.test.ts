import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../source/core/errors.js';
import { appPaths, profileFile } from '../../source/profile/paths.js';
import { defaultProfile } from '../../source/profile/schema.js';
import { ProfileStore, settableFields, looksLikeSecretKey } from '../../source/profile/store.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

let xdg: TempXdg;
let store: ProfileStore;

beforeEach(() => {
  xdg = useTempXdg();
  store = new ProfileStore();
});
afterEach(() => xdg.restore());

const mode = (target: string): number => statSync(target).mode & 0o777;

function catchInputError(action: () => unknown): InputError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected an InputError');
}

describe('ProfileStore files and modes', () => {
  it('creates, loads and saves a profile (round trip) under XDG_CONFIG_HOME', () => {
    const created = store.create('default');
    expect(created).toEqual(defaultProfile());
    const file = path.join(xdg.config, 'picluster-vault-tui', 'profiles', 'default.json');
    expect(store.file('default')).toBe(file);
    expect(existsSync(file)).toBe(true);
    expect(store.load('default')).toEqual(created);

    const changed = structuredClone(created);
    changed.host.address = '10.0.0.11';
    changed.vault.tls.extraSans = ['vault.lan', '10.0.0.12'];
    store.save('default', changed);
    expect(store.load('default')).toEqual(changed);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(changed);
    expect(store.list()).toEqual(['default']);
    expect(store.exists('default')).toBe(true);
    expect(store.exists('other')).toBe(false);
  });

  it('writes files 0600 in 0700 directories (config root and profiles dir)', () => {
    store.create('lab');
    expect(mode(profileFile('lab'))).toBe(0o600);
    expect(mode(appPaths().profilesDir)).toBe(0o700);
    expect(mode(appPaths().config)).toBe(0o700);
  });

  it('tightens a looser pre-existing directory and file', () => {
    const { config, profilesDir } = appPaths();
    mkdirSync(profilesDir, { recursive: true });
    chmodSync(config, 0o755);
    chmodSync(profilesDir, 0o777);
    writeFileSync(profileFile('old'), JSON.stringify(defaultProfile()), { mode: 0o644 });
    chmodSync(profileFile('old'), 0o644);

    store.load('old');
    expect(mode(config)).toBe(0o700);
    expect(mode(profilesDir)).toBe(0o700);
    expect(mode(profileFile('old'))).toBe(0o600);
  });

  it('follows XDG_CONFIG_HOME changes between calls (no cached path)', () => {
    store.create('default');
    const first = store.file('default');
    const second = useTempXdg();
    try {
      expect(store.exists('default')).toBe(false);
      store.create('default');
      expect(store.file('default')).not.toBe(first);
      expect(existsSync(store.file('default'))).toBe(true);
    } finally {
      second.restore();
    }
    expect(store.file('default')).toBe(first);
  });

  it('replaces the file by rename, never in place (atomic write: new inode each save)', () => {
    store.create('default');
    const before = statSync(profileFile('default')).ino;
    store.set('default', 'host.port', '2222');
    const after = statSync(profileFile('default')).ino;
    expect(after).not.toBe(before);
    expect(readdirSync(appPaths().profilesDir)).toEqual(['default.json']);
  });

  it('refuses to create over an existing profile and rejects bad profile names', () => {
    store.create('default');
    expect(catchInputError(() => store.create('default')).message).toMatch(/already exists/);
    const bad = catchInputError(() => store.load('../etc'));
    expect(bad.field).toBe('--profile');
    expect(bad.message).toMatch(/not a valid profile name/);
  });

  it('names the missing profile and how to create it', () => {
    store.create('lab');
    const error = catchInputError(() => store.load('default'));
    expect(error.message).toContain('profile "default" does not exist');
    expect(error.hint).toContain('profile init');
    expect(error.hint).toContain('lab');
  });

  it('lists only profile files, sorted', () => {
    store.create('b');
    store.create('a');
    writeFileSync(path.join(appPaths().profilesDir, 'notes.txt'), 'x');
    writeFileSync(path.join(appPaths().profilesDir, 'a.json.bak'), '{}');
    expect(store.list()).toEqual(['a', 'b']);
  });

  it('returns no profiles and creates nothing when the config dir does not exist', () => {
    expect(store.list()).toEqual([]);
    expect(existsSync(appPaths().config)).toBe(false);
  });
});

describe('ProfileStore never resets a broken profile', () => {
  const broken = '{\n  "host": {\n    "address": "10.0.0.11",\n  }\n}\n';

  it('corrupted JSON: the error names the file and the parse position, the file stays byte-identical', () => {
    store.create('default');
    const file = profileFile('default');
    writeFileSync(file, broken);
    const bytes = readFileSync(file);

    const error = catchInputError(() => store.load('default'));
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/trailing comma before "}" at line 4, column 3 \(position \d+\)/);
    expect(error.hint).toMatch(/left untouched/);
    expect(error.hint).toContain('profile import');

    // Every writer refuses too: set, save, progress, pin.
    expect(() => store.set('default', 'host.port', '22')).toThrow(InputError);
    expect(() => store.save('default', defaultProfile())).toThrow(InputError);
    expect(() => store.create('default')).toThrow(InputError);
    expect(() =>
      store.pinHostKey('default', { algorithm: 'ssh-ed25519', fingerprint: `SHA256:${'A'.repeat(43)}` }),
    ).toThrow(InputError);
    expect(() => store.progressSink('default').stepRecorded('host.preflight', { state: 'done', at: 'now' })).toThrow(InputError);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('conf runs with clearInvalidConfig false: a write attempt on a corrupted file throws instead of clearing it', async () => {
    // Drive conf directly with the options the store uses, so a change of conf's default cannot
    // silently turn into "reset the user's file".
    const { default: Conf } = await import('conf');
    const dir = appPaths().profilesDir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'default.json'), broken);
    expect(
      () => new Conf({ cwd: dir, configName: 'default', fileExtension: 'json', configFileMode: 0o600, clearInvalidConfig: false }),
    ).toThrow(SyntaxError);
    expect(readFileSync(path.join(dir, 'default.json'), 'utf8')).toBe(broken);
  });

  it('schema-invalid file: the error names the file and every bad field, nothing is rewritten', () => {
    const file = profileFile('default');
    mkdirSync(path.dirname(file), { recursive: true });
    const content = JSON.stringify({ host: { port: 70000, adress: 'x' }, vault: { version: '1.2.3; rm -rf /' } }, null, 2);
    writeFileSync(file, content);

    const error = catchInputError(() => store.load('default'));
    expect(error.message).toContain(file);
    expect(error.message).toContain('host.port: must be from 1 to 65535');
    expect(error.message).toContain('host.adress: unknown field (did you mean host.address?)');
    expect(error.message).toMatch(/vault\.version: "1\.2\.3; rm -rf \/" is not a Vault version/);
    expect(error.field).toBeDefined();
    expect(() => store.save('default', defaultProfile())).toThrow(/host\.port/);
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('a secret pasted into the file is reported as such', () => {
    const file = profileFile('default');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ host: { password: 'hunter2' } }));
    expect(catchInputError(() => store.load('default')).message).toContain('host.password: looks like a secret');
  });

  it('save with replaceInvalid keeps the broken content as .bak', () => {
    const file = profileFile('default');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, broken);
    store.save('default', defaultProfile(), { replaceInvalid: true });
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(broken);
    expect(mode(`${file}.bak`)).toBe(0o600);
    expect(store.load('default')).toEqual(defaultProfile());
  });
});

describe('ProfileStore.importFile', () => {
  it('imports a valid file and keeps the replaced profile as .bak', () => {
    store.create('default');
    const source = path.join(xdg.root, 'in.json');
    writeFileSync(source, JSON.stringify({ host: { address: 'pi.lan', user: 'admin' } }));
    const result = store.importFile('default', source);
    expect(result.profile.host.address).toBe('pi.lan');
    expect(result.backup).toBe(`${profileFile('default')}.bak`);
    expect(store.load('default').host.user).toBe('admin');
    expect(mode(profileFile('default'))).toBe(0o600);
  });

  it('writes nothing when the file is invalid or not JSON', () => {
    store.create('default');
    const before = readFileSync(profileFile('default'));
    const invalid = path.join(xdg.root, 'invalid.json');
    writeFileSync(invalid, JSON.stringify({ host: { port: 0 }, vault: { keyShares: 2, keyThreshold: 3 } }));
    const invalidError = catchInputError(() => store.importFile('default', invalid));
    expect(invalidError.message).toContain(invalid);
    expect(invalidError.message).toContain('host.port');
    expect(invalidError.message).toContain('vault.keyThreshold: key threshold (3) cannot be larger than key shares (2)');
    expect(invalidError.hint).toMatch(/Nothing was written/);

    const notJson = path.join(xdg.root, 'broken.json');
    writeFileSync(notJson, '{"host": {"address": "x"');
    const parseError = catchInputError(() => store.importFile('default', notJson));
    expect(parseError.message).toMatch(/broken\.json is not valid JSON: .* at line 1, column 25 \(position 24\)/);

    expect(() => store.importFile('other', path.join(xdg.root, 'missing.json'))).toThrow(/no such file/);
    expect(readFileSync(profileFile('default')).equals(before)).toBe(true);
    expect(existsSync(`${profileFile('default')}.bak`)).toBe(false);
    expect(store.exists('other')).toBe(false);
  });

  it('replaces a corrupted profile (the way out the load error suggests), keeping it as .bak', () => {
    const file = profileFile('default');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '{oops');
    const source = path.join(xdg.root, 'good.json');
    writeFileSync(source, JSON.stringify(defaultProfile()));
    store.importFile('default', source);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe('{oops');
    expect(store.load('default')).toEqual(defaultProfile());
  });
});

describe('ProfileStore.pinHostKey', () => {
  it('pins a host key and keeps the other fields', () => {
    store.set('default', 'host.address', '10.0.0.11');
    const pin = { algorithm: 'ssh-ed25519', fingerprint: `SHA256:${'b'.repeat(43)}` };
    store.pinHostKey('default', pin);
    const profile = store.load('default');
    expect(profile.host.hostKey).toEqual(pin);
    expect(profile.host.address).toBe('10.0.0.11');
    expect(() => store.pinHostKey('default', { algorithm: 'ssh-ed25519', fingerprint: 'MD5:aa' })).toThrow();
    expect(store.load('default').host.hostKey).toEqual(pin);
  });
});

describe('schema keys', () => {
  it('no schema key looks like a secret (the profile holds none)', () => {
    const keys = [...settableFields().keys()];
    expect(keys).toContain('host.address');
    expect(keys).toContain('vault.tls.extraSans');
    expect(keys.filter(looksLikeSecretKey)).toEqual([]);
  });
});
