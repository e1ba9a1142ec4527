/**
 * The command line: flags and subcommands, and the choice between the interactive interface (a
 * terminal on stdin and stdout, not CI) and plain output.
 *
 * Startup must stay fast (`--version`, `status`): nothing heavy is imported here. Ink, React, ssh2,
 * node-vault, @kubernetes/client-node and conf are loaded with `await import()` inside the action
 * that needs them (esbuild splits them into chunks of their own).
 *
 * Exit codes: 0 ok, 1 failure, 2 bad usage or input (unknown flag or command, invalid value).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { UserError, InputError } from './core/errors.js';
import { LogFile } from './core/log-file.js';
import { validateProfileName } from './core/validate.js';
import { APP_NAME, DEFAULT_PROFILE, logFile } from './profile/paths.js';
import { closeMatches } from './profile/format.js';
import { colorEnabled } from './cli/color.js';
import { createOutput, printProblem, type GlobalOptions, type Output } from './cli/output.js';

const VERSION: string = packageJson.version;

function parseProfileName(value: string): string {
  const message = validateProfileName(value);
  if (message) throw new InvalidArgumentError(message);
  return value;
}

/** Why the interactive interface cannot run here, or undefined when it can. */
function interactiveProblem(): string | undefined {
  if (!process.stdin.isTTY) return 'stdin is not a terminal';
  if (!process.stdout.isTTY) return 'stdout is not a terminal';
  // Same reading of CI as Ink's own check (is-in-ci): CI=false or CI=0 means "not CI".
  const ci = process.env['CI'];
  if (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') return 'CI is set';
  return undefined;
}

/** Stack traces are for DEBUG runs only; DEBUG=node-vault alone is node-vault's own switch, not ours. */
function showStacks(): boolean {
  const names = (process.env['DEBUG'] ?? '')
    .split(/[\s,]+/)
    .filter((name) => name.length > 0 && !name.startsWith('node-vault'));
  return names.length > 0;
}

export function buildProgram(output: Output, setExitCode: (code: number) => void): Command {
  const program = new Command();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run =
    <A extends unknown[]>(action: (...args: A) => number | Promise<number>) =>
    async (...args: A): Promise<void> => {
      setExitCode(await action(...args));
    };

  program
    .name(APP_NAME)
    .description(packageJson.description)
    .version(VERSION, '-V, --version', 'print the version and exit')
    .usage('[options] [command]')
    .helpOption('-h, --help', 'show help for a command')
    // Listed explicitly: with a default action commander would not add `help [command]` on its own.
    .helpCommand('help [command]', 'show help for a command')
    .option('--profile <name>', 'profile to use (letters, digits, _ . -)', parseProfileName, DEFAULT_PROFILE)
    .option('--no-color', 'no colours (NO_COLOR=1 and TERM=dumb do the same)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error:/, output.errStyle.bold(output.errStyle.red('error:')))),
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      [
        '',
        'Without a command it opens the interactive interface (needs a terminal on stdin and stdout, and no CI).',
        '',
        'Examples:',
        `  ${APP_NAME} profile init`,
        `  ${APP_NAME} profile set host.address=10.0.0.11 vault.nodeIp=10.0.0.11 vault.tls.extraSans=vault.lan`,
        `  ${APP_NAME} plan`,
        `  ${APP_NAME} --profile lab info --json`,
      ].join('\n'),
    );

  const profile = program.command('profile').description('create, show and change profiles (a profile holds no secrets)');
  profile
    .command('list')
    .description('list the saved profiles')
    .option('--json', 'print JSON')
    .action(run(async (options: { json?: boolean }) => (await import('./cli/profile.js')).profileList(globals(), options, output)));
  profile
    .command('show')
    .description('show every field of the profile')
    .option('--json', 'print the profile as JSON (a file `profile import` accepts)')
    .action(run(async (options: { json?: boolean }) => (await import('./cli/profile.js')).profileShow(globals(), options, output)));
  profile
    .command('path')
    .description("print the profile's file name")
    .action(run(async () => (await import('./cli/profile.js')).profilePath(globals(), output)));
  profile
    .command('keys')
    .description('list every key `profile set` accepts, with its type and default')
    .option('--json', 'print JSON')
    .action(run(async (options: { json?: boolean }) => (await import('./cli/profile.js')).profileKeys(options, output)));
  profile
    .command('init')
    .description('create the profile with default values (never replaces an existing one)')
    .action(run(async () => (await import('./cli/profile.js')).profileInit(globals(), output)));
  profile
    .command('set')
    .description('set fields: numbers, true/false, lists as a,b,c; KEY= unsets an optional field. Validates the whole profile before writing')
    .argument('<KEY=VALUE...>', 'e.g. host.port=22 vault.tls.extraSans=vault.lan,10.0.0.12')
    .action(run(async (assignments: string[]) => (await import('./cli/profile.js')).profileSet(globals(), assignments, output)));
  profile
    .command('import')
    .description('replace the profile with a JSON file, after validating all of it (the old one is kept as .bak)')
    .argument('<FILE>', 'profile JSON, e.g. from `profile show --json`')
    .action(run(async (file: string) => (await import('./cli/profile.js')).profileImport(globals(), file, output)));

  program
    .command('info')
    .description('show where files live: config, data (custody), state (logs)')
    .option('--json', 'print JSON')
    .action(run(async (options: { json?: boolean }) => (await import('./cli/info.js')).info(globals(), options, output, VERSION)));

  const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
  program
    .command('plan')
    .description("show, phase by phase, each step's state (done/todo/drift) and what setup would run and write")
    .option('--phase <phase>', 'only this phase: host, vault or cluster (repeatable, or comma-separated)', collect)
    .option('--offline', 'describe only: connect to nothing, check no state')
    .option('--json', 'print JSON')
    .action(run(async (options: { json?: boolean; phase?: string[]; offline?: boolean }) => (await import('./cli/plan.js')).plan(globals(), options, output)));

  program
    .command('setup')
    .description('run the setup without the interactive interface; resumes where the last run stopped')
    .option('--phase <phase>', 'only this phase: host, vault or cluster (repeatable, or comma-separated)', collect)
    .option('-y, --yes', "accept each question's safe default (an unknown SSH host key is never accepted by default)")
    .option('--json', 'print the summary as JSON on stdout')
    .option('--show-keys', 'also print the unseal keys and root token after init (on stderr); they are always kept in custody')
    .option('--recover-helm', 'a helm release a stopped helm left pending-install/pending-upgrade: roll it back to its last deployed revision (or uninstall it when its first install never completed), then install as usual; without it the step stops and says how')
    .action(run(async (options: { json?: boolean; phase?: string[]; yes?: boolean; showKeys?: boolean; recoverHelm?: boolean }) => (await import('./cli/setup.js')).setup(globals(), options, output)));

  program
    .command('status')
    .description('Vault at a glance: sealed or not, unseal progress, version, HA, certificate expiry, host services. Exit 0 unsealed, 2 sealed, 3 not initialized, 1 unreachable or error')
    .option('--json', 'print JSON (the shape is in the README and source/cli/status.schema.json)')
    .option('--no-host', 'ask the Vault API only: no SSH to the host (fastest)')
    .action(run(async (options: { json?: boolean; host?: boolean }) => (await import('./cli/status.js')).status(globals(), options, output)));

  program
    .command('unseal')
    .description('unseal Vault with the keys from custody, else the host keys file, else typed (masked in a terminal, or one per line on stdin). Exit 0 unsealed, 1 keys refused or not enough, 2 bad input')
    .option('--from <source>', 'only this key source: custody, host or typed (default: auto, in that order)')
    .action(run(async (options: { from?: string }) => (await import('./cli/unseal.js')).unseal(globals(), options, output)));

  program
    .command('seal')
    .description('seal Vault (root token from custody, else typed); asks first in a terminal. Exit 0 sealed, 1 not sealed (declined, unreachable, refused), 2 no terminal and no --yes')
    .option('-y, --yes', 'seal without asking (needed when there is no terminal)')
    .action(run(async (options: { yes?: boolean }) => (await import('./cli/seal.js')).seal(globals(), options, output)));

  program
    .command('snapshot')
    .description('take a raft snapshot of Vault into custody (snapshots/vault-<UTC>.snap, 0600); prints its path. Exit 0 written, 1 failed (nothing left behind), 2 bad input, 130 cancelled')
    .option('--json', 'print {file, bytes, sha256, address, takenAt}')
    .action(run(async (options: { json?: boolean }) => (await import('./cli/snapshot.js')).snapshot(globals(), options, output)));

  program
    .command('logs')
    .description("show the host's journal of vault.service and vault-unseal.service. Exit 0 shown (or followed until Ctrl+C), 1 host or journal unreachable, 2 bad -n")
    .option('-f, --follow', 'keep streaming new lines until Ctrl+C')
    .option('-n, --lines <N>', 'lines of history to show first (default 50)')
    .action(run(async (options: { follow?: boolean; lines?: string }) => (await import('./cli/logs.js')).logs(globals(), options, output)));

  program
    .command('renew-cert')
    .description("renew Vault's TLS certificate when 30 days or fewer are left (or with --force): re-issued from the CA in custody, uploaded, Vault restarted and unsealed again, the new one checked as served. Exit 0 renewed or not due, 1 not renewed or left sealed, 2 bad input")
    .option('--force', 'renew even when it is not due (generated certificates only)')
    .option('--json', 'print {outcome, mode, reason, before, served, sealed}')
    .action(run(async (options: { force?: boolean; json?: boolean }) => (await import('./cli/renew-cert.js')).renewCert(globals(), options, output)));

  program.argument('[command]').action(
    run(async (typed: string | undefined) => {
      if (typed !== undefined) {
        const known = program.commands.map((command) => command.name());
        const suggestions = closeMatches(typed, known, 1);
        program.error(`error: unknown command '${typed}'${suggestions.length ? `\n(Did you mean ${suggestions[0]}?)` : ''}`, {
          code: 'commander.unknownCommand',
          exitCode: 2,
        });
      }
      const problem = interactiveProblem();
      if (problem) {
        throw new InputError(`the interactive interface needs a terminal (${problem})`, {
          hint: `Use the subcommands instead: \`${APP_NAME} plan\`, \`${APP_NAME} profile show|set|init|import\`, \`${APP_NAME} info\` (all of them: \`${APP_NAME} --help\`).`,
        });
      }
      const { runTui } = await import('./ui/run.js');
      return runTui({ profileName: globals().profile, color: colorEnabled({ flag: globals().color }) });
    }),
  );

  // Every usage error ends with where to read the usage of the command that was typed.
  const withHint = (command: Command, path: string): void => {
    command.showHelpAfterError(`hint: see \`${path} --help\``);
    for (const sub of command.commands) withHint(sub, `${path} ${sub.name()}`);
  };
  withHint(program, APP_NAME);
  return program;
}

function profileFromArgv(argv: readonly string[]): string {
  const at = argv.findIndex((arg) => arg === '--profile' || arg.startsWith('--profile='));
  const value = at < 0 ? undefined : argv[at]?.includes('=') ? argv[at]?.slice('--profile='.length) : argv[at + 1];
  return value !== undefined && validateProfileName(value) === undefined ? value : DEFAULT_PROFILE;
}

function reportUnexpected(error: unknown, output: Output, argv: readonly string[]): void {
  const message = error instanceof Error ? error.message : String(error);
  const file = logFile(profileFromArgv(argv));
  let logged = false;
  try {
    const log = new LogFile(file);
    log.writeRaw(`${new Date().toISOString()} ERROR [cli] ${APP_NAME} ${VERSION}: ${error instanceof Error ? (error.stack ?? message) : message}`);
    log.close();
    logged = true;
  } catch {
    // The log itself is unwritable; the message below still says what happened.
  }
  printProblem(output, message);
  if (logged) output.err(`see the log file ${file}`);
  if (showStacks() && error instanceof Error && error.stack) output.err(error.stack);
}

export async function main(argv: readonly string[]): Promise<number> {
  const output = createOutput(argv.includes('--no-color') ? false : undefined);
  let exitCode = 0;
  const program = buildProgram(output, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message (and our hint) already.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      // `help profile` shows help on request (exit code 0); `profile` alone shows it as an error.
      if (error.code === 'commander.help' && error.exitCode === 0) return 0;
      return 2;
    }
    if (error instanceof UserError) {
      printProblem(output, error.message, error.hint);
      if (showStacks() && error.stack) output.err(error.stack);
      return error.exitCode;
    }
    reportUnexpected(error, output, argv);
    return 1;
  }
}

// `picluster-vault-tui profile show | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
process.exitCode = await main(process.argv);
