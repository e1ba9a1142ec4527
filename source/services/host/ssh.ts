/**
 * The SSH transport (ssh2): one connection, opened on first use and reused by every command; after
 * the link drops, the next call connects again. A command that was running when the link dropped is
 * reported as lost and never re-run (it may or may not have finished on the host).
 *
 * Host keys are checked before any credential is sent: a key marked @revoked in ~/.ssh/known_hosts
 * or /etc/ssh/ssh_known_hosts is refused (even when pinned); then the key pinned in the profile, else
 * those files, else the user is asked (trust on first use) and an accepted key is pinned. A key that
 * differs from the pinned or known one is refused; a host known only under another key type is asked
 * about with a warning, never silently.
 *
 * ssh2 is loaded on first connect so that commands which never reach the host do not pay for it.
 * API: https://github.com/mscdex/ssh2#client-methods
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Client, ClientChannel, ConnectConfig, ParsedKey, PublicKeyAuthMethod, ServerHostKeyAlgorithm } from 'ssh2';
import { InputError, UserError } from '../../core/errors.js';
import {
  OutputCollector,
  TERMINATE_GRACE_MS,
  abortError,
  commandLabel,
  exitCodeForSignal,
  timeoutError,
  watchCancellation,
  type RawExecResult,
} from './exec-support.js';
import {
  checkKnownHosts,
  describeKnown,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  pinOf,
  type HostKeyPin,
  type KnownHostEntry,
  type KnownOtherKey,
} from './known-hosts.js';
import { ShellTransport, type RawExecOptions } from './shell-transport.js';
import { shellQuote } from './shell-quote.js';
import { SudoSession, prepareCommand } from './sudo.js';
import type { ExecOptions } from './transport.js';
import { expandHome } from '../../profile/paths.js';

export type SshAuth =
  /** ssh-agent at `socket` (default SSH_AUTH_SOCK). */
  | { method: 'agent'; socket?: string }
  /** A private key file; its passphrase, if any, is asked through askKeyPassphrase. */
  | { method: 'key'; keyFile: string }
  /** The login password, asked through askPassword. */
  | { method: 'password' };

export interface UnknownHostKeyInfo extends HostKeyPin {
  host: string;
  port: number;
  /**
   * Keys of other types the host is already known by (known_hosts files): not empty means the
   * server offered a type it is not known with, which the question must warn about.
   */
  knownOtherKeys: KnownOtherKey[];
}

/** Where OpenSSH keeps host keys trusted for every user of this machine (ssh_config GlobalKnownHostsFile). */
export const SYSTEM_KNOWN_HOSTS_FILE = '/etc/ssh/ssh_known_hosts';

export interface SshTransportOptions {
  host: string;
  port: number;
  username: string;
  auth: SshAuth;
  /** Milliseconds between SSH keepalives; 0 disables them. Default 15000. */
  keepaliveInterval?: number;
  /** Unanswered keepalives before the link counts as dropped. Default 3. */
  keepaliveCountMax?: number;
  /** Handshake and login timeout. Default 20000. */
  readyTimeoutMs?: number;
  /** Default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Host keys trusted system-wide, read after the user's file; default SYSTEM_KNOWN_HOSTS_FILE. */
  systemKnownHostsFile?: string;
  /** The key accepted earlier and saved in the profile. */
  pinnedHostKey?: HostKeyPin;
  /** Shows the fingerprint of a key seen for the first time; true = trust it (it is then pinned). */
  onUnknownHostKey?: (info: UnknownHostKeyInfo) => Promise<boolean>;
  /** Called with a newly accepted key so that the caller saves it in the profile. */
  onPinned?: (pin: HostKeyPin) => void | Promise<void>;
  askPassword?: (request: { user: string; host: string }) => Promise<string>;
  askKeyPassphrase?: (request: { keyFile: string }) => Promise<string>;
  askSudoPassword?: () => Promise<string>;
}

/** Environment variable that tags every process of one remote command, so that cancel can find them. */
const EXEC_TAG = 'PICLUSTER_VAULT_TUI_EXEC';

const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Signature algorithms that prove possession of a key of this type. */
function algorithmsForKeyType(keyType: string): ServerHostKeyAlgorithm[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return HOST_KEY_ALGORITHMS.filter((algorithm) => algorithm === keyType);
}

interface Ssh2Module {
  Client: typeof Client;
  utils: { parseKey: (data: Buffer, passphrase?: string) => ParsedKey | ParsedKey[] | Error };
}

let ssh2Loading: Promise<Ssh2Module> | undefined;

function loadSsh2(): Promise<Ssh2Module> {
  ssh2Loading ??= import('ssh2').then((module) => {
    // ssh2 is CommonJS: `utils` is only on the default export, and once bundled `Client` may be too
    // (Node's own loader detects named exports of a CommonJS module; a bundler's interop may not).
    const commonJs = (module as unknown as { default?: Ssh2Module }).default;
    const named = module as unknown as Partial<Ssh2Module>;
    const Client = named.Client ?? commonJs?.Client;
    const utils = commonJs?.utils ?? named.utils;
    if (!Client || !utils) throw new Error('ssh2 loaded without Client/utils: the build is broken');
    return { Client, utils };
  });
  return ssh2Loading;
}

interface Connection {
  client: Client;
  alive: boolean;
  /** Called when the link drops, once per command running on it. */
  onLost: Set<() => void>;
}

interface RunOptions extends Omit<ExecOptions, 'stdin' | 'sudo'> {
  stdin?: Buffer;
  label: string;
}


export class SshTransport extends ShellTransport {
  readonly kind = 'ssh' as const;
  readonly description: string;
  private readonly where: string;
  private readonly sudo: SudoSession;
  private connection: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private pinnedHostKey: HostKeyPin | undefined;
  /** Held in memory only, so that a reconnect does not ask again. */
  private password: string | undefined;
  private acceptedKeyDuringAttempt = false;
  /** ssh2's parsed (decrypted) private key. */
  private decryptedKey: ParsedKey | undefined;

  constructor(private readonly options: SshTransportOptions) {
    const where = `${options.username}@${options.host}${options.port === 22 ? '' : `:${options.port}`}`;
    super(where);
    this.where = where;
    this.description = `ssh ${options.username}@${options.host}:${options.port}`;
    this.pinnedHostKey = options.pinnedHostKey;
    this.sudo = new SudoSession(
      (commandLine, runOptions) => this.run(commandLine, { ...runOptions, label: commandLine }),
      options.askSudoPassword,
      this.where,
    );
  }

  /** The host key trusted for this transport now (pinned in the profile or accepted this session). */
  get hostKeyPin(): HostKeyPin | undefined {
    return this.pinnedHostKey;
  }

  /** Whether a connection is open right now (for status displays; calls connect as needed anyway). */
  get connected(): boolean {
    return this.connection?.alive === true;
  }

  /** Opens the connection now (it is otherwise opened by the first command). */
  async connect(): Promise<void> {
    await this.liveConnection();
  }

  /** Closes the connection; a later call opens a new one. */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection?.alive) return;
    const closed = new Promise<void>((resolve) => {
      connection.client.once('close', () => resolve());
      setTimeout(resolve, 2000).unref();
    });
    connection.client.end();
    await closed;
  }

  protected async execRaw(command: string, options: RawExecOptions): Promise<RawExecResult> {
    if (options.signal?.aborted) throw abortError(command, options.signal.reason);
    const { commandLine, stdin } = await prepareCommand(this.sudo, command, options);
    return this.run(commandLine, { ...options, stdin, label: command });
  }

  private async run(commandLine: string, options: RunOptions): Promise<RawExecResult> {
    if (options.signal?.aborted) throw abortError(options.label, options.signal.reason);
    const connection = await this.liveConnection();
    const token = randomUUID();
    // The user's login shell may not be POSIX: hand the command to /bin/sh, tagged for cancel.
    // The outer shell stays alive as the session leader (`; exit $?` stops it from exec-ing the
    // command), so cancel can find the session even when the command is sudo, whose environment the
    // login user cannot read.
    const remoteCommand = `exec env ${EXEC_TAG}=${token} /bin/sh -c ${shellQuote('/bin/sh -c "$1"; exit $?')} sh ${shellQuote(commandLine)}`;
    const lostError = () =>
      new UserError(`the SSH connection to ${this.where} was lost while running \`${commandLabel(options.label)}\``, {
        hint: 'the command was not run again and may or may not have finished on the host; check the network and run again (the checks show what is already done)',
      });

    return new Promise<RawExecResult>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: { error: Error } | { result: RawExecResult }) => {
        if (settled) return;
        settled = true;
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.result);
      };
      const onChannel = (error: Error | undefined, channel: ClientChannel) => {
        if (error) {
          settle({
            error: connection.alive
              ? new UserError(`cannot start a command on ${this.where}: ${error.message}`, {
                  hint: 'the SSH server may limit sessions per connection (MaxSessions)',
                  cause: error,
                })
              : lostError(),
          });
          return;
        }
        this.attachChannel(connection, channel, token, options, lostError, settle);
      };
      try {
        connection.client.exec(remoteCommand, onChannel);
      } catch (error) {
        // ssh2 throws at once when the socket closed since the connection was handed out.
        settle({ error: connection.alive ? (error as Error) : lostError() });
      }
    });
  }

  private attachChannel(
    connection: Connection,
    channel: ClientChannel,
    token: string,
    options: RunOptions,
    lostError: () => UserError,
    settle: (outcome: { error: Error } | { result: RawExecResult }) => void,
  ): void {
    const stdout = new OutputCollector(options.onStdoutLine);
    const stderr = new OutputCollector(options.onStderrLine);
    let exitCode: number | undefined;
    let failure: Error | undefined;
    const timers: NodeJS.Timeout[] = [];

    const onLost = () => {
      finish();
      settle({ error: failure ?? lostError() });
    };
    connection.onLost.add(onLost);
    const cancellation = watchCancellation(options, (kind) => {
      failure =
        kind === 'abort'
          ? abortError(options.label, options.signal?.reason)
          : timeoutError(options.label, options.timeoutMs ?? 0, this.where);
      this.signalRemote(connection, token, 'TERM');
      timers.push(setTimeout(() => this.signalRemote(connection, token, 'KILL'), TERMINATE_GRACE_MS));
      // Never hang on a channel the server does not close: give up on it after the KILL had time.
      timers.push(
        setTimeout(() => {
          channel.close();
          finish();
          settle({ error: failure as Error });
        }, TERMINATE_GRACE_MS * 2),
      );
    });
    const finish = () => {
      cancellation.dispose();
      for (const timer of timers) clearTimeout(timer);
      connection.onLost.delete(onLost);
    };

    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    channel.on('exit', (code: number | null, signalName?: string) => {
      exitCode = code ?? exitCodeForSignal(signalName ?? 'KILL');
    });
    channel.on('close', () => {
      finish();
      const result = { code: exitCode ?? -1, stdout: stdout.finish(), stderr: stderr.finish() };
      if (failure) settle({ error: failure });
      else if (!connection.alive) settle({ error: lostError() });
      else if (exitCode === undefined) {
        settle({
          error: new UserError(`\`${commandLabel(options.label)}\` on ${this.where} ended without an exit status`, {
            hint: 'the SSH server closed the session early; see the host logs (journalctl -u ssh)',
          }),
        });
      } else settle({ result });
    });
    channel.on('error', () => undefined);
    if (options.stdin && options.stdin.length > 0) channel.end(options.stdin);
    else channel.end();
  }

  /**
   * Signals every process of one remote command. OpenSSH refuses the SSH "signal" request for some
   * sessions (root logins: "session signalling requires privilege separation") and would only reach
   * the first process anyway, so a second session finds the processes by their tag and signals their
   * process group (sshd makes each session a process group leader). Processes under sudo are root's:
   * sudo relays the signal to its root-side shell, which signals the rest (see sudo.ts).
   */
  private signalRemote(connection: Connection, token: string, signal: 'TERM' | 'KILL'): void {
    if (!connection.alive) return;
    const script = [
      `for f in $(grep -l -F -x -z -e ${shellQuote(`${EXEC_TAG}=${token}`)} /proc/[0-9]*/environ 2>/dev/null); do`,
      '  p=${f#/proc/}; p=${p%/environ}',
      // No `--`: dash's kill builtin rejects it; a negative pid after the signal names a group.
      `  kill -${signal} "-$p" 2>/dev/null || kill -${signal} "$p" 2>/dev/null`,
      'done; :',
    ].join('\n');
    connection.client.exec(`exec /bin/sh -c ${shellQuote(script)}`, (error, channel) => {
      if (error) return;
      channel.on('error', () => undefined);
      channel.resume();
      channel.stderr.resume();
      channel.end();
    });
  }

  private liveConnection(): Promise<Connection> {
    if (this.connection?.alive) return Promise.resolve(this.connection);
    this.connecting ??= this.openConnectionOnceMore().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * The host key question is asked in the middle of the handshake, and a user may take longer to
   * answer than the server's LoginGraceTime or our handshake timeout. The answer is kept (the key is
   * pinned), so one more attempt connects without asking again.
   */
  private async openConnectionOnceMore(): Promise<Connection> {
    this.acceptedKeyDuringAttempt = false;
    try {
      return await this.openConnection();
    } catch (error) {
      if (!this.acceptedKeyDuringAttempt) throw error;
      this.acceptedKeyDuringAttempt = false;
      return this.openConnection();
    }
  }

  private async openConnection(): Promise<Connection> {
    const ssh2 = await loadSsh2();
    const knownHosts = await this.readKnownHosts();
    const credentials = await this.credentials(ssh2);
    const preferred = this.pinnedHostKey
      ? algorithmsForKeyType(this.pinnedHostKey.algorithm)
      : knownKeyTypes(knownHosts, this.options.host, this.options.port).flatMap(algorithmsForKeyType);

    const client = new ssh2.Client();
    const connection: Connection = { client, alive: false, onLost: new Set() };
    let hostKeyFailure: Error | undefined;
    /** The host key check in progress (it may be waiting for the user's answer). */
    let verifying: Promise<void> | undefined;

    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      // A failure while the user is still deciding about the host key is reported after the answer,
      // so that an accepted key is kept and the next attempt does not ask again.
      const fail = (error: () => Error) => {
        const report = () => reject(hostKeyFailure ?? error());
        if (verifying) verifying.then(report, report);
        else report();
      };
      client.on('ready', () => {
        settled = true;
        connection.alive = true;
        this.connection = connection;
        resolve(connection);
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (settled) return; // 'close' follows and reports the drop to running commands.
        settled = true;
        fail(() => this.connectError(error));
        client.end();
      });
      client.on('close', () => {
        const wasAlive = connection.alive;
        connection.alive = false;
        if (this.connection === connection) this.connection = undefined;
        if (!settled) {
          settled = true;
          fail(() => new UserError(`the SSH server ${this.where} closed the connection during login`));
        }
        if (wasAlive) for (const onLost of [...connection.onLost]) onLost();
      });
      client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
        // Servers that take passwords only through keyboard-interactive (PAM) ask for it this way.
        finish(prompts.map(() => this.password ?? ''));
      });

      const config: ConnectConfig = {
        host: this.options.host,
        port: this.options.port,
        username: this.options.username,
        keepaliveInterval: this.options.keepaliveInterval ?? 15_000,
        keepaliveCountMax: this.options.keepaliveCountMax ?? 3,
        readyTimeout: this.options.readyTimeoutMs ?? 20_000,
        ...credentials,
        // Must return undefined: ssh2 treats any returned value (a Promise too) as the verdict.
        hostVerifier: (key: Buffer, verify: (valid: boolean) => void): void => {
          verifying = this.verifyHostKey(key, knownHosts);
          verifying.then(
            () => verify(true),
            (error: unknown) => {
              hostKeyFailure = error instanceof Error ? error : new Error(String(error));
              verify(false);
            },
          );
        },
      };
      if (preferred.length > 0) {
        // Ask for the key type we already know, as OpenSSH does, instead of meeting an unknown one.
        config.algorithms = {
          serverHostKey: [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])],
        };
      }
      client.connect(config);
    });
  }

  /** The user's known_hosts, then the system-wide one (as OpenSSH reads them); a missing file is empty. */
  private async readKnownHosts(): Promise<KnownHostEntry[]> {
    const files = [this.options.knownHostsFile ?? '~/.ssh/known_hosts', this.options.systemKnownHostsFile ?? SYSTEM_KNOWN_HOSTS_FILE];
    const entries: KnownHostEntry[] = [];
    for (const shown of files) {
      const file = expandHome(shown);
      try {
        entries.push(...parseKnownHosts(await readFile(file, 'utf8'), shown));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new UserError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
      }
    }
    return entries;
  }

  private async verifyHostKey(keyBlob: Buffer, knownHosts: KnownHostEntry[]): Promise<void> {
    const { host, port } = this.options;
    const presented = pinOf(keyBlob);
    const shown = `${presented.algorithm} ${presented.fingerprint}`;
    const knownHostsFile = this.options.knownHostsFile ?? '~/.ssh/known_hosts';
    const verdict = checkKnownHosts(knownHosts, host, port, keyBlob);
    // Before the pin: a key revoked in any known_hosts file is refused even if the profile trusts it.
    if (verdict.status === 'revoked') {
      throw new UserError(`the host key of ${host}:${port} (${shown}) is marked @revoked in ${whereOf(verdict.entry, knownHostsFile)}; refusing to connect`, {
        hint: 'the host must get a new host key (ssh-keygen -A on the host after removing the old keys); if the profile pinned this key, forget it too (picluster-vault-tui profile set host.hostKey=)',
      });
    }
    const pin = this.pinnedHostKey;
    if (pin) {
      if (pin.algorithm === presented.algorithm && pin.fingerprint === presented.fingerprint) return;
      throw new UserError(
        `HOST KEY CHANGED for ${host}:${port}: the profile trusts ${pin.algorithm} ${pin.fingerprint}, the server presented ${shown}. ` +
          'Refusing to connect: someone may be intercepting the connection.',
        {
          hint:
            'if the host was reinstalled or its keys regenerated on purpose, compare the new fingerprint on the host ' +
            '(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then forget the pinned key (picluster-vault-tui profile set host.hostKey=) and connect again',
        },
      );
    }
    switch (verdict.status) {
      case 'match':
        return;
      case 'mismatch': {
        const expected = verdict.expected.map((entry) => `${entry.keyType} ${pinOf(entry.key).fingerprint} (${whereOf(entry, knownHostsFile)})`).join(', ');
        const listedIn = [...new Set(verdict.expected.map((entry) => entry.file ?? knownHostsFile))];
        throw new UserError(
          `HOST KEY CHANGED for ${host}:${port}: ${listedIn.join(' and ')} list${listedIn.length === 1 ? 's' : ''} ${expected}, the server presented ${shown}. ` +
            'Refusing to connect: someone may be intercepting the connection.',
          {
            hint:
              'if the host was reinstalled or its keys regenerated on purpose, compare the new fingerprint on the host, then remove the old entry: ' +
              `ssh-keygen -R ${shellQuote(knownHostsName(host, port))} -f ${shellQuote(knownHostsFile)}`,
          },
        );
      }
      case 'unknown': {
        const knownOtherKeys = verdict.known.map((entry) => ({ ...pinOf(entry.key), where: whereOf(entry, knownHostsFile) }));
        if (!this.options.onUnknownHostKey) {
          const other = knownOtherKeys.length > 0 ? `; it is known under another key type (${describeKnown(knownOtherKeys)}), which the server did not offer` : '';
          throw new UserError(`the host key of ${host}:${port} (${shown}) is not known and cannot be confirmed here${other}`, {
            hint: `connect once interactively to confirm it, or add it to ${knownHostsFile} (ssh ${this.options.username}@${host} -p ${port})`,
          });
        }
        const accepted = await this.options.onUnknownHostKey({ host, port, ...presented, knownOtherKeys });
        if (!accepted) {
          throw new UserError(`the host key of ${host}:${port} (${shown}) was not accepted; not connecting`, {
            hint: 'compare it with the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and accept it if they match',
          });
        }
        this.pinnedHostKey = presented;
        this.acceptedKeyDuringAttempt = true;
        await this.options.onPinned?.(presented);
        return;
      }
    }
  }

  private async credentials(ssh2: Ssh2Module): Promise<Partial<ConnectConfig>> {
    const { auth } = this.options;
    switch (auth.method) {
      case 'agent': {
        const socket = auth.socket ?? process.env['SSH_AUTH_SOCK'];
        if (!socket) {
          throw new UserError('no ssh-agent is running (SSH_AUTH_SOCK is not set)', {
            hint: 'start one and add your key (eval "$(ssh-agent)"; ssh-add), or set host.auth to key or password in the profile',
          });
        }
        return { agent: socket };
      }
      case 'key': {
        if (this.decryptedKey !== undefined) return this.keyConfig();
        const keyFile = expandHome(auth.keyFile);
        let privateKey: Buffer;
        try {
          privateKey = await readFile(keyFile);
        } catch (error) {
          throw new InputError(`cannot read the SSH key ${keyFile}: ${(error as Error).message}`, {
            field: 'host.keyFile',
            hint: 'set host.keyFile to your private key, e.g. ~/.ssh/id_ed25519',
            cause: error,
          });
        }
        let parsed = ssh2.utils.parseKey(privateKey);
        if (parsed instanceof Error) {
          if (!/passphrase/i.test(parsed.message)) {
            throw new InputError(`${keyFile} is not a private key ssh can use: ${parsed.message}`, { field: 'host.keyFile' });
          }
          if (!this.options.askKeyPassphrase) {
            throw new UserError(`the SSH key ${keyFile} is protected by a passphrase that cannot be asked here`, {
              hint: 'add the key to ssh-agent (ssh-add) and use host.auth agent',
            });
          }
          parsed = ssh2.utils.parseKey(privateKey, await this.options.askKeyPassphrase({ keyFile }));
          if (parsed instanceof Error) {
            throw new UserError(`wrong passphrase for the SSH key ${keyFile}`, { hint: 'try again with the passphrase of that key' });
          }
        }
        // Kept decrypted in memory for reconnects: no second prompt, and no second bcrypt key
        // derivation, which takes about a second with ssh2's JavaScript crypto.
        this.decryptedKey = Array.isArray(parsed) ? parsed[0] : parsed;
        return this.keyConfig();
      }
      case 'password': {
        if (this.password === undefined) {
          if (!this.options.askPassword) {
            throw new UserError(`logging in to ${this.where} needs a password that cannot be asked here`, {
              hint: 'run interactively, or use a key (host.auth key or agent)',
            });
          }
          this.password = await this.options.askPassword({ user: this.options.username, host: this.options.host });
        }
        return { password: this.password, tryKeyboard: true };
      }
    }
  }

  private keyConfig(): Partial<ConnectConfig> {
    // An already parsed key is only accepted in an explicit auth method (connect's privateKey wants text).
    const method: PublicKeyAuthMethod = { type: 'publickey', username: this.options.username, key: this.decryptedKey as ParsedKey };
    return { authHandler: [method] };
  }

  private connectError(error: Error & { level?: string; code?: string }): UserError {
    const { host, port, username, auth } = this.options;
    if (error.level === 'client-authentication') {
      if (auth.method === 'password') this.password = undefined;
      const hints: Record<SshAuth['method'], string> = {
        agent: `check that ssh-add -l lists a key whose public half is in ~${username}/.ssh/authorized_keys on the host`,
        key: `check that the public half of ${auth.method === 'key' ? auth.keyFile : 'the key'} is in ~${username}/.ssh/authorized_keys on the host`,
        password: 'the password may be wrong, or the server may not accept passwords (PasswordAuthentication no)',
      };
      return new UserError(`the SSH server ${host}:${port} refused the login as ${username} (${auth.method})`, {
        hint: hints[auth.method],
        cause: error,
      });
    }
    if (error.code === 'ECONNREFUSED') {
      return new UserError(`nothing accepts SSH connections on ${host}:${port}`, {
        hint: 'check that the host is up, that sshd runs on it, and the port (host.port)',
        cause: error,
      });
    }
    if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
      return new UserError(`cannot resolve the host name ${host}`, { hint: 'check host.address, or use the IP address', cause: error });
    }
    if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH' || error.code === 'ETIMEDOUT' || /timed out/i.test(error.message)) {
      return new UserError(`cannot reach ${host}:${port} (${error.message})`, {
        hint: 'check that the host is powered on and on the network, and the address in the profile',
        cause: error,
      });
    }
    return new UserError(`SSH connection to ${host}:${port} failed: ${error.message}`, { cause: error });
  }
}

/** `~/.ssh/known_hosts:12`: the file an entry came from and its line. */
function whereOf(entry: KnownHostEntry, fallbackFile: string): string {
  return `${entry.file ?? fallbackFile}:${entry.line}`;
}
