/**
 * Which server the server-agnostic end-to-end suites (faults, secret hygiene) run against:
 * `PVT_E2E_SERVER=openbao` for the real OpenBao the lab mirror serves, else the Vault stand-in.
 * Read when a suite's modules are first evaluated: the OpenBao variants of those suites set it
 * before importing them (test/e2e/faults/faults-openbao.test.ts, test/e2e/secrets/hygiene-openbao.test.ts).
 */
import { OPENBAO, VAULT, type ServerFlavor } from '../../../source/core/server.js';
import type { LabState } from '../../lab/lab.js';

export function e2eServer(env: NodeJS.ProcessEnv = process.env): ServerFlavor {
  const value = env['PVT_E2E_SERVER']?.trim() ?? '';
  if (value === '' || value === 'vault') return VAULT;
  if (value === 'openbao') return OPENBAO;
  throw new Error(`PVT_E2E_SERVER must be vault or openbao, not ${JSON.stringify(value)}`);
}

/** The lab profile that sets up `server` on the lab host. */
export function labProfileFile(state: Pick<LabState, 'profileFile' | 'profileOpenBaoFile'>, server: ServerFlavor): string {
  return server.kind === 'openbao' ? state.profileOpenBaoFile : state.profileFile;
}
