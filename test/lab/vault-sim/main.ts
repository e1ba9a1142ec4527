// `vault` command line: `vault server -config=FILE` and `vault version`, with Vault's output:
// https://developer.hashicorp.com/vault/docs/commands/server
// https://developer.hashicorp.com/vault/docs/commands/version
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { RaftStorage } from './barrier.js';
import { ConfigError, loadServerConfig, type ListenerConfig, type ServerConfig } from './config.js';
import { Core, type BuildInfo, type LogLevel } from './core.js';
import { ListMethodSocket } from './list-method.js';
import { VaultHttpHandler } from './server.js';

// Filled in by the release build (esbuild `define`); running from source reports a dev version.
declare const VAULT_SIM_BUILD: BuildInfo | undefined;

function buildInfo(): BuildInfo {
  if (typeof VAULT_SIM_BUILD !== 'undefined') return VAULT_SIM_BUILD;
  const version = '0.0.0-dev';
  return { version, revision: createHash('sha1').update(`vault-sim ${version}`).digest('hex'), buildDate: '1970-01-01T00:00:00Z' };
}

/** -log-level (or VAULT_LOG_LEVEL): at the default, info, debug lines are not written. */
let debugLogging = ['debug', 'trace'].includes((process.env['VAULT_LOG_LEVEL'] ?? '').toLowerCase());

function log(level: LogLevel, message: string): void {
  if (level === 'DEBUG' && !debugLogging) return;
  // hclog's format: timestamp, bracketed level padded to 7, message. The log goes to stderr.
  process.stderr.write(`${new Date().toISOString()} ${`[${level}]`.padEnd(7)} ${message}\n`);
}

/**
 * What the server command itself says (banner, errors, shutdown) goes to stdout: Vault and OpenBao
 * give `server` a UI with no error writer, so even its errors are written to stdout, while the
 * hclog lines go to stderr (hashicorp/vault and openbao/openbao command/main.go `serverCmdUi`).
 */
function ui(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function usage(): void {
  process.stderr.write(`Usage: vault <command> [args]

Common commands:
    read        Read data and retrieves secrets
    write       Write data, configuration, and secrets
    delete      Delete secrets and configuration
    list        List data or secrets
    login       Authenticate locally
    server      Start a Vault server
    status      Print seal and HA status
    unwrap      Unwrap a wrapped secret

Other commands:
    operator    Perform operator-specific tasks
    version     Prints the Vault CLI version
`);
}

function parseServerArgs(args: string[]): string[] {
  const configs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--?config(?:=(.*))?$/.exec(arg);
    if (match) {
      const value = match[1] ?? args[++i];
      if (value === undefined) throw new ConfigError('flag needs an argument: -config');
      configs.push(value);
      continue;
    }
    const logFlag = /^--?log-(level|format)(?:=(.*))?$/.exec(arg);
    if (logFlag) {
      const value = logFlag[2] ?? args[++i] ?? '';
      if (logFlag[1] === 'level') debugLogging = ['debug', 'trace'].includes(value.toLowerCase());
      continue;
    }
    if (/^--?dev/.test(arg)) throw new ConfigError('Development mode is not available in this build; start it with -config');
    throw new ConfigError(`flag provided but not defined: ${arg.replace(/=.*$/, '')}`);
  }
  return configs;
}

function tlsFiles(listener: ListenerConfig): { cert: Buffer; key: Buffer } {
  const read = (file: string | undefined, what: string): Buffer => {
    if (!file) throw new Error(`error loading TLS ${what}: ${what === 'cert' ? 'tls_cert_file' : 'tls_key_file'} must be set`);
    try {
      return readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new Error(`error loading TLS cert: open ${file}: ${reason}`);
    }
  };
  const cert = read(listener.tlsCertFile, 'cert');
  const key = read(listener.tlsKeyFile, 'key');
  if (!cert.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new Error('error loading TLS cert: tls: failed to find any PEM data in certificate input');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('utf8'))) throw new Error('error loading TLS cert: tls: failed to find any PEM data in key input');
  return { cert, key };
}

function splitAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  const host = index === -1 ? address : address.slice(0, index);
  const port = index === -1 ? 8200 : Number(address.slice(index + 1));
  return { host: host.replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

function banner(config: ServerConfig, build: BuildInfo): string {
  const rows: [string, string][] = [
    ['Administrative Namespace', ''],
    ['Api Address', config.apiAddr ?? ''],
    ['Cgo', 'disabled'],
    ['Cluster Address', config.clusterAddr ?? ''],
    ['Environment Variables', Object.keys(process.env).filter((k) => /^(VAULT_|HOME|PATH|LANG|USER|SHELL|TERM)/.test(k)).sort().join(', ')],
    ['Go Version', 'go1.24.6'],
    ...config.listeners.map((l, index): [string, string] => [
      `Listener ${index + 1}`,
      `tcp (addr: "${l.address}", cluster address: "${l.clusterAddress}", disable_request_limiter: "false", max_request_duration: "1m30s", max_request_size: "33554432", tls: "${l.tlsDisable ? 'disabled' : 'enabled'}")`,
    ]),
    ['Log Level', ''],
    ['Mlock', `supported: true, enabled: ${!config.disableMlock}`],
    ['Recovery Mode', 'false'],
    ['Storage', 'raft (HA available)'],
    ['Version', `Vault v${build.version}, built ${build.buildDate}`],
    ['Version Sha', build.revision],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return `==> Vault server configuration:\n\n${rows.map(([label, value]) => `${label.padStart(width + 1)}: ${value}`).join('\n')}\n\n==> Vault server started! Log data will stream in below:\n\n`;
}

/**
 * The launcher (see package.ts) passes a FIFO when systemd waits for readiness. It is opened at
 * once so that if this process dies before it is ready, the launcher's read ends (EOF) instead of
 * hanging.
 */
function openReadinessChannel(): (() => void) | undefined {
  const fifo = process.env['VAULT_SIM_READY_FIFO'];
  delete process.env['VAULT_SIM_READY_FIFO'];
  if (!fifo) return undefined;
  const descriptor = openSync(fifo, 'w');
  return () => {
    writeSync(descriptor, 'READY\n');
    closeSync(descriptor);
  };
}

// Vault calls mlockall() unless disable_mlock is set, and refuses to start when it fails.
const MLOCK_FAILURE = `Error initializing core: Failed to lock memory: cannot allocate memory

This usually means that the mlock syscall is not available.
Vault uses mlock to prevent memory from being swapped to
disk. This requires root privileges as well as a machine
that supports mlock. Please enable mlock on your system or
disable Vault from using it. To disable Vault from using it,
set the \`disable_mlock\` configuration option in your configuration
file.
`;

/** mlockall(MCL_CURRENT|MCL_FUTURE) succeeds with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK. */
function canLockMemory(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    const CAP_IPC_LOCK = 14n;
    if (effective && (BigInt(`0x${effective}`) >> CAP_IPC_LOCK) & 1n) return true;
    const limits = readFileSync('/proc/self/limits', 'utf8');
    return /^Max locked memory\s+unlimited\s+unlimited/m.test(limits);
  } catch {
    return false;
  }
}

async function serve(args: string[]): Promise<number> {
  const signalReady = openReadinessChannel();
  const build = buildInfo();
  let config: ServerConfig;
  try {
    const configs = parseServerArgs(args);
    if (configs.length === 0) throw new ConfigError('Must specify at least one config path using -config');
    if (configs.length > 1) throw new ConfigError('Only one -config file is supported by this build');
    config = loadServerConfig(configs[0]!);
  } catch (error) {
    ui((error as Error).message);
    return 1;
  }
  if (!config.clusterAddr) {
    ui('Cluster address must be set when using raft storage');
    return 1;
  }

  if (!config.disableMlock && !canLockMemory()) {
    ui(MLOCK_FAILURE);
    return 1;
  }

  const storage = new RaftStorage(config.storage.path);
  try {
    storage.open();
  } catch (error) {
    ui(`Error initializing storage of type raft: ${(error as Error).message}`);
    return 1;
  }
  const core = new Core(storage, build, log);
  core.addresses = { apiAddr: config.apiAddr ?? '', clusterAddr: config.clusterAddr, nodeId: config.storage.nodeId ?? 'node' };
  const handler = new VaultHttpHandler(core, log);

  // Node's HTTP parser does not know Vault's LIST method, so connections are accepted by a
  // TLS (or TCP) server and handed to the HTTP server through the LIST-rewriting socket.
  const httpServer: HttpServer = createHttpServer(handler.listener);
  const sockets = new Set<Socket>();
  const accept = (socket: Socket): void => {
    sockets.add(socket);
    // Headers and body leave as separate writes: without TCP_NODELAY, Nagle's algorithm and
    // delayed ACKs add ~40 ms to every response.
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    httpServer.emit('connection', new ListMethodSocket(socket));
  };
  const servers: { server: NetServer | TlsServer; listener: ListenerConfig }[] = [];
  for (const listener of config.listeners) {
    try {
      const server = listener.tlsDisable ? createNetServer(accept) : createTlsServer({ ...tlsFiles(listener), minVersion: 'TLSv1.2' }, accept);
      servers.push({ server, listener });
    } catch (error) {
      ui('Error parsing listener configuration.');
      ui(`Error initializing listener of type tcp: ${(error as Error).message}`);
      return 1;
    }
  }
  for (const { server, listener } of servers) {
    const { host, port } = splitAddress(listener.address);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'EADDRINUSE' ? 'bind: address already in use' : code === 'EACCES' ? 'bind: permission denied' : (error as Error).message;
      ui('Error parsing listener configuration.');
      ui(`Error initializing listener of type tcp: listen tcp4 ${listener.address}: ${reason}`);
      return 1;
    }
  }

  ui(banner(config, build));
  log('INFO', 'proxy environment: http_proxy="" https_proxy="" no_proxy=""');
  log('INFO', `storage.raft: creating Raft: config="&raft.Config{ProtocolVersion:3, LocalID:\\"${config.storage.nodeId ?? 'node'}\\"}"`);
  log('INFO', 'core: Initializing version history cache for core');
  if (!core.initialized()) log('INFO', 'core: security barrier not initialized');
  else log('INFO', 'core: vault is sealed');
  for (const { server, listener } of servers) {
    const address = server.address();
    if (address && typeof address === 'object') log('INFO', `core: listening: address=${address.address}:${address.port} tls=${!listener.tlsDisable}`);
  }

  // Vault tells systemd it is ready once its listeners are up (sealed or not).
  signalReady?.();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (): void => {
      if (stopping) return;
      stopping = true;
      ui('==> Vault shutdown triggered');
      core.seal();
      let open = servers.length;
      if (open === 0) resolve(0);
      for (const { server } of servers) {
        server.close(() => {
          if (--open === 0) resolve(0);
        });
      }
      for (const socket of sockets) socket.destroy();
      httpServer.close();
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    process.on('SIGHUP', () => {
      // Vault reloads listener certificates on SIGHUP.
      ui('==> Vault reload triggered');
      for (const { server, listener } of servers) {
        if (listener.tlsDisable || !('setSecureContext' in server)) continue;
        try {
          (server as TlsServer).setSecureContext({ ...tlsFiles(listener), minVersion: 'TLSv1.2' });
        } catch (error) {
          log('ERROR', `error reloading listener certificate: ${(error as Error).message}`);
        }
      }
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const build = buildInfo();
  if (command === 'version' || command === '-version' || command === '--version' || command === '-v') {
    process.stdout.write(`Vault v${build.version} (${build.revision}), built ${build.buildDate}\n`);
    return 0;
  }
  if (command === 'server') return serve(rest);
  usage();
  return 127;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
