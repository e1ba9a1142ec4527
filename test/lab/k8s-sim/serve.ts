/**
 * Runs the lab's Kubernetes API server in the foreground until SIGTERM/SIGINT:
 *   tsx test/lab/k8s-sim/serve.ts --dir DIR [--port N] [--address 127.0.0.1 --address 127.0.0.2 ...]
 *                                 [--san NAME ...] [--preinstall-eso]
 * Writes DIR/kubeconfig.yaml, DIR/pki/ca.crt and, once listening, DIR/k8s-sim.json
 * ({url, port, addresses, pid, kubeconfig, caFile}); prints one "k8s-sim serving on URL" line.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startK8sSim } from './index.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      port: { type: 'string' },
      address: { type: 'string', multiple: true },
      san: { type: 'string', multiple: true },
      'preinstall-eso': { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  });
  if (!values.dir) throw new Error('usage: serve.ts --dir DIR [--port N] [--address A ...] [--san NAME ...] [--preinstall-eso] [--verbose]');
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${values.port}`);
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const sim = await startK8sSim({
    dir: values.dir,
    port,
    ...(values.address?.length ? { listenAddresses: values.address } : {}),
    ...(values.san?.length ? { extraSans: values.san } : {}),
    ...(values['preinstall-eso'] ? { preinstallEso: true } : {}),
    log: values.verbose ? log : (line) => (/-> [45]\d\d|controller|eso:|fault/.test(line) ? log(line) : undefined),
  });
  const stateFile = join(values.dir, 'k8s-sim.json');
  // Written whole then renamed: `lab up` polls for this file and must never read half of it.
  await writeFile(
    `${stateFile}.tmp`,
    `${JSON.stringify({ url: sim.url, port: sim.port, addresses: sim.addresses, pid: process.pid, kubeconfig: sim.kubeconfigPath, caFile: sim.caFile }, null, 2)}\n`,
  );
  await rename(`${stateFile}.tmp`, stateFile);
  process.stdout.write(`k8s-sim serving on ${sim.url} (kubeconfig ${sim.kubeconfigPath})\n`);
  const stop = (signal: string): void => {
    process.stdout.write(`k8s-sim: ${signal}, closing\n`);
    void sim
      .close()
      .then(() => rm(stateFile, { force: true }))
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`k8s-sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
