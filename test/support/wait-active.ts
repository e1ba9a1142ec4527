/**
 * Waits until a freshly unsealed server is the active node (sys/health 200). A raft node is a
 * standby for a moment after its unseal (the real OpenBao, and vault-sim after it): tests that read
 * HA state or write right after unsealing by hand wait here first, as the product itself does
 * (steps/vault/unseal.ts waitUntilActive).
 */
import { vaultRequest } from '../lab/vault-sim/testing.js';

export async function waitForActive(url: string, caPem: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await vaultRequest(url, caPem, { path: 'sys/health' })).status;
    if (last === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not become active within ${timeoutMs} ms (sys/health ${last})`);
}
