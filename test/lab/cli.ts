/**
 * The lab commands:
 *   up       start the lab host, the release mirror and the Kubernetes cluster with its helm
 *            (does nothing if a healthy lab is up; replaces only the cluster part if that alone is unhealthy)
 *   down     stop everything the lab started and remove its instance
 *   status   print what is up; exit 0 up, 1 unhealthy (any part) or starting, 3 down
 *   serve-mirror --root DIR --port N [--https-port N --tls-dir DIR]
 *            (used by `up`) run the release mirror in the foreground
 * (`up` runs the cluster as test/lab/kube/serve.ts, detached, like the mirror.)
 * LAB_DIR (default /tmp/picluster-vault-tui-lab) says where the instance lives; see test/lab/README.md.
 */
import { parseArgs } from 'node:util';
import { describeStatus, labDown, LabNeedsRootError, labStatus, labUp, requireRoot } from './lab.js';

async function serveMirror(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { root: { type: 'string' }, port: { type: 'string' }, 'https-port': { type: 'string' }, 'tls-dir': { type: 'string' } } });
  const port = Number(values.port);
  const httpsPort = values['https-port'] === undefined ? undefined : Number(values['https-port']);
  if (!values.root || !Number.isInteger(port) || (httpsPort !== undefined && (!Number.isInteger(httpsPort) || !values['tls-dir']))) {
    throw new Error('usage: serve-mirror --root DIR --port N [--https-port N --tls-dir DIR]');
  }
  const { startMirror } = await import('./mirror/server.js');
  const { ensureMirrorTls, readMirrorTls } = await import('./mirror/tls.js');
  const https = httpsPort === undefined ? undefined : { port: httpsPort, ...(await readMirrorTls(await ensureMirrorTls(values['tls-dir']!))) };
  const mirror = await startMirror({ root: values.root, host: '127.0.0.1', port, ...(https ? { https } : {}) });
  process.stdout.write(`mirror serving ${values.root} on ${mirror.url}${mirror.httpsUrl ? ` and ${mirror.httpsUrl}` : ''}\n`);
  const stop = (signal: string) => {
    process.stdout.write(`mirror: ${signal}, closing\n`);
    void mirror.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const { state } = await labUp();
      process.stdout.write(describeStatus(await labStatus(state.labDir)) + '\n');
      return 0;
    }
    case 'down':
      await labDown();
      return 0;
    case 'status': {
      requireRoot(); // the lab's key and pids belong to root
      const status = await labStatus();
      process.stdout.write(describeStatus(status) + '\n');
      if (!status.recorded) return 3;
      return status.health?.up ? 0 : 1;
    }
    case 'serve-mirror':
      await serveMirror(rest);
      return -1; // keeps running until signalled
    default:
      process.stderr.write('usage: cli.ts up | down | status\n');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof LabNeedsRootError) process.stderr.write(`lab: ${error.message}\n`);
    else process.stderr.write(`lab: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
