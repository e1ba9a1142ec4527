// sys/init gets its own, long time limit: the server answers only after raft's first election
// (6-10 s for the real OpenBao 2.7.2 here). A client that gave up at its ordinary request timeout
// would leave a server initialised with keys nobody received. A TLS server that answers sys/init
// later than the client's timeout stands in for that election.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OPENBAO } from '../../source/core/server.js';
import { connectVault } from '../../source/services/vault.js';
import { makeTlsMaterial, type TlsMaterial } from '../lab/vault-sim/testing.js';

const CLIENT_TIMEOUT_MS = 300;
const INIT_DELAY_MS = 1_200;
let dir: string;
let tls: TlsMaterial;
let server: Server;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-init-timeout-'));
  tls = await makeTlsMaterial(dir);
  server = createServer({ key: await readFile(tls.keyFile), cert: await readFile(tls.certFile) }, (request, response) => {
    const answer = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.url === '/v1/sys/init') {
      setTimeout(() => answer(200, { keys: ['aa'], keys_base64: ['qg=='], root_token: 's.root' }), INIT_DELAY_MS);
      return;
    }
    // Any other request is slower than the client's timeout too: it must still fail in time.
    setTimeout(() => answer(200, { sealed: true, initialized: true, t: 1, n: 1, progress: 0, version: '2.7.2' }), INIT_DELAY_MS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

it('waits for sys/init past the ordinary request timeout, while other requests still time out', async () => {
  const vault = await connectVault({ address: url, caPem: tls.caPem, timeoutMs: CLIENT_TIMEOUT_MS, server: OPENBAO });
  await expect(vault.sealStatus()).rejects.toThrow(/cannot reach OpenBao at https:\/\/127\.0\.0\.1:\d+/);
  const begin = Date.now();
  const answer = await vault.init({ shares: 1, threshold: 1 });
  expect(Date.now() - begin).toBeGreaterThanOrEqual(INIT_DELAY_MS - 50);
  expect(answer).toEqual({ keys: ['aa'], keys_base64: ['qg=='], root_token: 's.root' });
});
