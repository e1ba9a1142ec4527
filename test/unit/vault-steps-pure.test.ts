// Pure parts of the vault phase: the policy templates (rendered, parsed back with the lab's policy
// parser written from https://developer.hashicorp.com/vault/docs/concepts/policies, and evaluated
// for the capabilities they grant), error mapping of Vault's status codes
// (https://developer.hashicorp.com/vault/api-docs#http-status-codes), share/threshold validation,
// the KV mount decision (https://developer.hashicorp.com/vault/api-docs/system/mounts), the keys file
// reader, the reveal lines and the self-test's capability rule.
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../source/core/assets.js';
import { UserError } from '../../source/core/errors.js';
import { ProfileSchema } from '../../source/profile/schema.js';
import { describeVaultError, vaultAnswerError, VaultApiError } from '../../source/services/vault.js';
import { vaultSteps } from '../../source/steps/vault/index.js';
import { checkShares, revealLines } from '../../source/steps/vault/init.js';
import { kvMountState } from '../../source/steps/vault/kv.js';
import { normalizePolicy, renderPolicy } from '../../source/steps/vault/policies.js';
import { capabilityProblems } from '../../source/steps/vault/selftest.js';
import { parseInitRecord } from '../../source/steps/vault/session.js';
import { keysFromKeysFile } from '../../source/steps/vault/unseal.js';
import { Acl, parsePolicy } from '../lab/vault-sim/acl.js';

function granted(name: 'readonly' | 'readwrite', kvPath: string, path: string): string[] {
  return [...new Acl([{ name, rules: parsePolicy(renderPolicy(name, kvPath)) }]).capabilities(path)].sort();
}

describe('policy templates', () => {
  it('readonly may read and list data and metadata of the KV mount, nothing else', () => {
    expect(granted('readonly', 'secret', 'secret/data/apps/web')).toEqual(['list', 'read']);
    expect(granted('readonly', 'secret', 'secret/metadata/apps')).toEqual(['list', 'read']);
    expect(granted('readonly', 'secret', 'secret/metadata/')).toEqual(['list', 'read']);
    expect(granted('readonly', 'secret', 'other/data/x')).toEqual([]);
    expect(granted('readonly', 'secret', 'sys/policies/acl/readonly')).toEqual([]);
  });

  it('readwrite adds create, update, delete and patch', () => {
    expect(granted('readwrite', 'secret', 'secret/data/apps/web')).toEqual(['create', 'delete', 'list', 'patch', 'read', 'update']);
    expect(granted('readwrite', 'secret', 'secret/metadata/apps/web')).toEqual(['create', 'delete', 'list', 'patch', 'read', 'update']);
    expect(granted('readwrite', 'secret', 'secret/destroy/apps/web')).toEqual([]);
  });

  it('render the profile kvPath, and end with a newline', () => {
    const text = renderPolicy('readonly', 'k3s-secrets');
    expect(text).toContain('path "k3s-secrets/data/*" {');
    expect(text).toContain('path "k3s-secrets/metadata/*" {');
    expect(text).not.toContain('secret/');
    expect(text.endsWith('}\n')).toBe(true);
    expect(granted('readonly', 'k3s-secrets', 'k3s-secrets/data/a')).toEqual(['list', 'read']);
  });

  it('refuse a kvPath that would write HCL syntax', () => {
    expect(() => renderPolicy('readonly', 'a\nb')).toThrow(TemplateError);
  });

  it('compare by meaning of the text, not by line endings or trailing blanks', () => {
    const text = renderPolicy('readwrite', 'secret');
    expect(normalizePolicy(text.replaceAll('\n', '\r\n') + '\n\n')).toBe(normalizePolicy(text));
    expect(normalizePolicy(text.replace('"patch", ', ''))).not.toBe(normalizePolicy(text));
  });
});

describe('Vault errors', () => {
  it('403 says the token lacks the rights, keeps the status for callers', () => {
    const error = vaultAnswerError(403, ['1 error occurred:\n\t* permission denied\n\n'], 'POST /v1/secret/data/x', 'https://10.0.0.2:8200');
    expect(error).toBeInstanceOf(VaultApiError);
    expect(error).toBeInstanceOf(UserError);
    expect(error.statusCode).toBe(403);
    expect(error.message).toBe('permission denied: the token lacks the rights for POST /v1/secret/data/x (or it expired or was revoked)');
    expect(error.hint).toMatch(/generate-root/);
  });

  it('503 is a sealed Vault, with what to do', () => {
    const error = vaultAnswerError(503, ['Vault is sealed'], 'GET /v1/sys/mounts', 'https://10.0.0.2:8200');
    expect(error.message).toBe('Vault at https://10.0.0.2:8200 is sealed (GET /v1/sys/mounts answered 503)');
    expect(error.hint).toMatch(/unseal/);
  });

  it('400 on sys/init is an initialized Vault', () => {
    const error = vaultAnswerError(400, ['Vault is already initialized'], 'PUT /v1/sys/init', 'https://10.0.0.2:8200');
    expect(error.message).toBe('Vault at https://10.0.0.2:8200 is already initialized');
    expect(error.hint).toMatch(/never initialized again/);
  });

  it('other answers name the request, status and Vault\'s errors on one line', () => {
    expect(vaultAnswerError(400, ['1 error occurred:\n\t* path is already in use at secret/\n\n'], 'POST /v1/sys/mounts/secret', 'https://h:8200').message).toBe(
      'Vault answered POST /v1/sys/mounts/secret with HTTP 400: path is already in use at secret/',
    );
  });

  it('a transport failure never keeps the request (its headers hold the token) as the cause', () => {
    const axiosLike = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8200'), {
      code: 'ECONNREFUSED',
      config: { headers: { 'X-Vault-Token': 'hvs.secret-token-value' }, data: '{"key":"abcdef"}' },
    });
    const error = describeVaultError(axiosLike, 'GET /v1/sys/mounts', 'https://127.0.0.1:8200');
    expect(error.message).toBe('cannot reach Vault at https://127.0.0.1:8200 (ECONNREFUSED)');
    expect(JSON.stringify(error.cause, Object.getOwnPropertyNames(error.cause as object))).not.toContain('hvs.secret-token-value');
    expect((error.cause as { config?: unknown }).config).toBeUndefined();
  });
});

describe('key shares and threshold', () => {
  it('accepts 1 <= threshold <= shares <= 10, warning about 1/1', () => {
    expect(checkShares(5, 3)).toEqual({});
    expect(checkShares(10, 10)).toEqual({});
    expect(checkShares(1, 1).warning).toMatch(/whoever holds that one key can unseal Vault/);
  });

  it('refuses a threshold above the shares, zero, or more than 10 shares', () => {
    expect(checkShares(3, 5).error).toBe('key threshold (5) cannot be larger than key shares (3)');
    expect(checkShares(5, 0).error).toMatch(/at least 1/);
    expect(checkShares(11, 3).error).toMatch(/from 1 to 10/);
  });
});

describe('KV mount decision', () => {
  const kv2 = { type: 'kv', options: { version: '2' }, description: '' };
  it('KV v2 at the path is done; a free path is to mount', () => {
    expect(kvMountState({ 'secret/': kv2 }, 'secret')).toEqual({ kind: 'kv-v2' });
    expect(kvMountState({ 'other/': kv2 }, 'secret')).toEqual({ kind: 'absent' });
  });

  it('a KV v1 or another engine at the path is foreign, never to be replaced', () => {
    expect(kvMountState({ 'secret/': { type: 'kv', options: { version: '1' }, description: '' } }, 'secret')).toEqual({ kind: 'foreign', description: 'a KV version 1 engine' });
    expect(kvMountState({ 'secret/': { type: 'kv', options: null, description: '' } }, 'secret')).toEqual({ kind: 'foreign', description: 'a KV version 1 engine' });
    expect(kvMountState({ 'secret/': { type: 'transit', options: null, description: '' } }, 'secret')).toEqual({ kind: 'foreign', description: 'a "transit" engine' });
  });
});

describe('keys and records', () => {
  it('the host keys file is read like the unseal script reads it', () => {
    expect(keysFromKeysFile('{"keys":["aa","bb"],"threshold":2}')).toEqual(['aa', 'bb']);
    expect(keysFromKeysFile('{"unseal_keys_hex":["cc"]}')).toEqual(['cc']);
    expect(keysFromKeysFile('{"unseal_keys_b64":["ZGQ="]}')).toEqual(['ZGQ=']);
    expect(keysFromKeysFile('not json')).toEqual([]);
  });

  it('the reveal shows keys as `vault operator init` prints them', () => {
    expect(revealLines({ keys: ['0a', '0b'], keys_base64: ['Cg==', 'Cw=='], root_token: 'hvs.root' })).toEqual(['Unseal Key 1: Cg==', 'Unseal Key 2: Cw==', 'Initial Root Token: hvs.root']);
  });

  it('a damaged init.json is refused without quoting it', () => {
    expect(() => parseInitRecord('{"version":1,"keys":["secret-key"]}', '/c/init.json')).toThrow(/does not have the expected shape/);
    try {
      parseInitRecord('{"version":1,"keys":["secret-key"]}', '/c/init.json');
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-key');
    }
    expect(() => parseInitRecord('{oops', '/c/init.json')).toThrow('/c/init.json is not valid JSON');
  });
});

describe('self-test capability rule', () => {
  it('readonly must read and must not write; readwrite must do both', () => {
    expect(capabilityProblems('readonly', ['list', 'read'])).toEqual([]);
    expect(capabilityProblems('readonly', ['create', 'read', 'update'])).toEqual(['readonly has create', 'readonly has update']);
    expect(capabilityProblems('readwrite', ['read'])).toEqual(['readwrite lacks create', 'readwrite lacks update', 'readwrite lacks delete']);
    expect(capabilityProblems('readonly', ['deny'])).toEqual(['readonly lacks read']);
  });
});

describe('the vault phase plan', () => {
  it('has the decided steps in order; tokens only with issueAccess, root revocation only when asked', () => {
    const ids = (vault: Record<string, unknown>) => vaultSteps(ProfileSchema.parse({ vault })).map((step) => step.id);
    expect(ids({})).toEqual(['vault.init', 'vault.unseal', 'vault.autounseal', 'vault.kv', 'vault.policies', 'vault.tokens', 'vault.selftest']);
    expect(ids({ issueAccess: false })).toEqual(['vault.init', 'vault.unseal', 'vault.autounseal', 'vault.kv', 'vault.policies', 'vault.selftest']);
    expect(ids({ revokeRootAtEnd: true }).at(-1)).toBe('vault.revoke-root');
    for (const step of vaultSteps(ProfileSchema.parse({}))) expect(step.phase).toBe('vault');
  });
});
