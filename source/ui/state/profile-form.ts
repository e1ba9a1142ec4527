/**
 * The Profile screen's slice: a form over the profile's user-editable fields. Every field is
 * checked with the shared validators of core/validate.ts the moment it is accepted (the message is
 * shown next to the field), and the whole profile is checked with ProfileSchema before it is saved:
 * an invalid value stays in the form, visible and marked, and never reaches the profile file.
 */
import { parsePort, printable, validateHost, validateHttpsUrl, validateIp, validateLocalPath, validatePort, validateSan, validateShareCount, validateShares, validateThresholdAlone, validateUserName, validateVaultVersion } from '../../core/validate.js';
import { OPENBAO, otherServer, SERVER_KINDS, SERVERS, VAULT, type ServerFlavor, type ServerKind } from '../../core/server.js';
import { ProfileSchema, type Profile } from '../../profile/schema.js';

export type FieldId =
  | 'host.transport'
  | 'host.address'
  | 'host.port'
  | 'host.user'
  | 'host.auth'
  | 'host.keyFile'
  | 'vault.server'
  | 'vault.version'
  | 'vault.nodeIp'
  | 'vault.apiAddress'
  | 'vault.tls.mode'
  | 'vault.tls.extraSans'
  | 'vault.keyShares'
  | 'vault.keyThreshold'
  | 'cluster.kubeconfig'
  | 'cluster.context'
  | 'cluster.apiAddressForVault';

export type FieldValues = Record<FieldId, string>;
export type FieldGroup = 'Host' | 'Server' | 'Cluster';

/** A label or description: a function when it names the server the form's `vault.server` chooses. */
export type FieldText = string | ((server: ServerFlavor) => string);

export interface FieldDef {
  id: FieldId;
  group: FieldGroup;
  label: FieldText;
  kind: 'text' | 'choice';
  choices?: readonly string[];
  /** Shown under the form when the field is selected (read with fieldDescription). */
  description: FieldText;
  /** Text shown when the field is empty. */
  placeholder?: string;
  read(profile: Profile): string;
  /** Undefined when acceptable; `values` gives the other fields for cross-field rules. */
  validate(value: string, values: FieldValues): string | undefined;
}

const optional = (validator: (value: string) => string | undefined) => (value: string) => (value === '' ? undefined : validator(value));

function wholeNumber(value: string): number {
  return /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

function validateSharesField(value: string): string | undefined {
  const shares = wholeNumber(value);
  if (Number.isNaN(shares)) return `key shares must be a whole number from 1 to 10, got "${printable(value)}"`;
  return validateShareCount(shares);
}

function validateThresholdField(value: string, values: FieldValues): string | undefined {
  const threshold = wholeNumber(value);
  if (Number.isNaN(threshold)) return `key threshold must be a whole number of at least 1, got "${printable(value)}"`;
  const shares = wholeNumber(values['vault.keyShares']);
  // While shares itself is invalid its own field carries the message; judge the threshold alone.
  if (Number.isNaN(shares) || validateShareCount(shares)) return validateThresholdAlone(threshold);
  return validateShares(shares, threshold);
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

const validateContext = (value: string): string | undefined => {
  if (value.length > 253) return 'context name is too long (at most 253 characters)';
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'context name must not contain control characters';
  return undefined;
};

/** What differs between the choices, from the server table (two rows at 80 columns). */
const SERVER_DESCRIPTION =
  `${VAULT.kind}: ${VAULT.fullName}. ${OPENBAO.kind}: the Linux Foundation's MPL-2.0 fork (binary ${OPENBAO.binaryName}, ` +
  `user ${OPENBAO.user}, ${OPENBAO.defaultConfigDir}, ${OPENBAO.defaultDataDir}, releases from its GitHub).`;

export const FIELDS: readonly FieldDef[] = [
  {
    id: 'host.transport',
    group: 'Host',
    label: 'Connect via',
    kind: 'choice',
    choices: ['ssh', 'local'],
    description: (server) => `ssh: reach the Pi over SSH. local: this program runs on the ${server.name} host itself.`,
    read: (p) => p.host.transport,
    validate: () => undefined,
  },
  {
    id: 'host.address',
    group: 'Host',
    label: 'Host address',
    kind: 'text',
    description: (server) => `Hostname or IP address of the Raspberry Pi that will run ${server.name}.`,
    read: (p) => p.host.address,
    validate: (value) => validateHost(value),
  },
  {
    id: 'host.port',
    group: 'Host',
    label: 'SSH port',
    kind: 'text',
    description: 'SSH port of the host (usually 22).',
    read: (p) => String(p.host.port),
    validate: (value) => {
      const port = parsePort(value);
      return port === undefined ? `port must be a whole number from 1 to 65535, got "${printable(value)}"` : validatePort(port);
    },
  },
  {
    id: 'host.user',
    group: 'Host',
    label: 'SSH user',
    kind: 'text',
    description: 'Login user on the host; it needs sudo.',
    read: (p) => p.host.user,
    validate: (value) => validateUserName(value),
  },
  {
    id: 'host.auth',
    group: 'Host',
    label: 'SSH auth',
    kind: 'choice',
    choices: ['agent', 'key', 'password'],
    description: 'agent: ssh-agent. key: a private key file (its passphrase is asked). password: asked, never stored.',
    read: (p) => p.host.auth,
    validate: () => undefined,
  },
  {
    id: 'host.keyFile',
    group: 'Host',
    label: 'SSH key file',
    kind: 'text',
    placeholder: '(none)',
    description: 'Private key for "key" auth, e.g. ~/.ssh/id_ed25519.',
    read: (p) => p.host.keyFile ?? '',
    validate: optional(validateLocalPath),
  },
  {
    id: 'vault.server',
    group: 'Server',
    label: 'Software',
    kind: 'choice',
    choices: SERVER_KINDS,
    description: SERVER_DESCRIPTION,
    read: (p) => p.vault.server,
    validate: (value) => (SERVER_KINDS.includes(value as ServerKind) ? undefined : `server must be one of ${SERVER_KINDS.join(', ')}, got "${printable(value)}"`),
  },
  {
    id: 'vault.version',
    group: 'Server',
    label: (server) => `${server.name} version`,
    kind: 'text',
    description: '"latest" or an exact release such as 2.0.4.',
    read: (p) => p.vault.version,
    validate: (value) => validateVaultVersion(value),
  },
  {
    id: 'vault.nodeIp',
    group: 'Server',
    label: 'Node IP',
    kind: 'text',
    placeholder: '(detect)',
    description: (server) => `The node's IP address: ${server.name}'s api_addr and a certificate SAN.`,
    read: (p) => p.vault.nodeIp ?? '',
    validate: optional(validateIp),
  },
  {
    id: 'vault.apiAddress',
    group: 'Server',
    label: 'API address',
    kind: 'text',
    placeholder: '(https://<node IP>:8200)',
    description: (server) => `Override of the https:// address used to reach the ${server.name} API.`,
    read: (p) => p.vault.apiAddress ?? '',
    validate: optional(validateHttpsUrl),
  },
  {
    id: 'vault.tls.mode',
    group: 'Server',
    label: 'TLS',
    kind: 'choice',
    choices: ['generate', 'provided'],
    description: 'generate: a private CA signs the server certificate. provided: your own certificate files.',
    read: (p) => p.vault.tls.mode,
    validate: () => undefined,
  },
  {
    id: 'vault.tls.extraSans',
    group: 'Server',
    label: 'Extra SANs',
    kind: 'text',
    placeholder: '(none)',
    description: 'Comma-separated DNS names / IPs added to the certificate (node IP, hostname, localhost are always in).',
    read: (p) => p.vault.tls.extraSans.join(', '),
    validate: (value) => {
      for (const entry of splitList(value)) {
        const message = validateSan(entry);
        if (message) return message;
      }
      return undefined;
    },
  },
  {
    id: 'vault.keyShares',
    group: 'Server',
    label: 'Key shares',
    kind: 'text',
    description: 'Number of unseal key shares created at init (1-10).',
    read: (p) => String(p.vault.keyShares),
    validate: (value) => validateSharesField(value),
  },
  {
    id: 'vault.keyThreshold',
    group: 'Server',
    label: 'Key threshold',
    kind: 'text',
    description: 'Shares needed to unseal: at most the number of shares, and at least 2 when there are several (1 only with 1 share).',
    read: (p) => String(p.vault.keyThreshold),
    validate: (value, values) => validateThresholdField(value, values),
  },
  {
    id: 'cluster.kubeconfig',
    group: 'Cluster',
    label: 'Kubeconfig',
    kind: 'text',
    placeholder: '(KUBECONFIG or ~/.kube/config)',
    description: 'Kubeconfig of the K3s cluster (on the Pi: /etc/rancher/k3s/k3s.yaml).',
    read: (p) => p.cluster.kubeconfig ?? '',
    validate: optional(validateLocalPath),
  },
  {
    id: 'cluster.context',
    group: 'Cluster',
    label: 'Context',
    kind: 'text',
    placeholder: '(current context)',
    description: 'Kubeconfig context to use.',
    read: (p) => p.cluster.context ?? '',
    validate: optional(validateContext),
  },
  {
    id: 'cluster.apiAddressForVault',
    group: 'Cluster',
    label: 'K8s API',
    kind: 'text',
    placeholder: '(from kubeconfig)',
    description: (server) => `Kubernetes API address reachable FROM the ${server.name} host (a kubeconfig often says 127.0.0.1).`,
    read: (p) => p.cluster.apiAddressForVault ?? '',
    validate: optional(validateHttpsUrl),
  },
];

/** The server the form describes now (its `vault.server` value, saved or not). */
export function formServer(values: FieldValues): ServerFlavor {
  return SERVERS[values['vault.server'] as ServerKind] ?? VAULT;
}

export function fieldLabel(field: FieldDef, values: FieldValues): string {
  return typeof field.label === 'function' ? field.label(formServer(values)) : field.label;
}

export function fieldDescription(field: FieldDef, values: FieldValues): string {
  return typeof field.description === 'function' ? field.description(formServer(values)) : field.description;
}

export function fieldIndex(id: FieldId): number {
  return FIELDS.findIndex((field) => field.id === id);
}

export function readValues(profile: Profile): FieldValues {
  return Object.fromEntries(FIELDS.map((field) => [field.id, field.read(profile)])) as FieldValues;
}

/** Fields whose message depends on another field (re-validated when that one changes). */
const DEPENDENTS: Partial<Record<FieldId, FieldId[]>> = { 'vault.keyShares': ['vault.keyThreshold'] };

export function validateAll(values: FieldValues): Partial<Record<FieldId, string>> {
  const errors: Partial<Record<FieldId, string>> = {};
  for (const field of FIELDS) {
    const message = field.validate(values[field.id], values);
    if (message) errors[field.id] = message;
  }
  return errors;
}

function emptyToUndefined(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** The profile the form describes: the saved profile with the form's fields replaced. */
export function applyValues(base: Profile, values: FieldValues): unknown {
  return {
    ...base,
    host: {
      ...base.host,
      transport: values['host.transport'],
      address: values['host.address'],
      port: parsePort(values['host.port']) ?? Number.NaN,
      user: values['host.user'],
      auth: values['host.auth'],
      keyFile: emptyToUndefined(values['host.keyFile']),
    },
    vault: {
      ...base.vault,
      server: values['vault.server'],
      version: values['vault.version'],
      nodeIp: emptyToUndefined(values['vault.nodeIp']),
      apiAddress: emptyToUndefined(values['vault.apiAddress']),
      tls: { ...base.vault.tls, mode: values['vault.tls.mode'], extraSans: splitList(values['vault.tls.extraSans']) },
      keyShares: wholeNumber(values['vault.keyShares']),
      keyThreshold: wholeNumber(values['vault.keyThreshold']),
    },
    cluster: {
      ...base.cluster,
      kubeconfig: emptyToUndefined(values['cluster.kubeconfig']),
      context: emptyToUndefined(values['cluster.context']),
      apiAddressForVault: emptyToUndefined(values['cluster.apiAddressForVault']),
    },
  };
}

export type ProfileCheck =
  | { ok: true; profile: Profile }
  | { ok: false; errors: Partial<Record<FieldId, string>>; general: string[] };

/** Field validators first (their messages are the friendliest), then the whole profile with ProfileSchema. */
export function checkProfile(base: Profile, values: FieldValues): ProfileCheck {
  const errors = validateAll(values);
  if (Object.keys(errors).length > 0) return { ok: false, errors, general: [] };
  const parsed = ProfileSchema.safeParse(applyValues(base, values));
  if (parsed.success) return { ok: true, profile: parsed.data };
  const general: string[] = [];
  for (const issue of parsed.error.issues) {
    const where = issue.path.join('.');
    const field = FIELDS.find((candidate) => where === candidate.id || where.startsWith(`${candidate.id}.`));
    if (field && errors[field.id] === undefined) errors[field.id] = issue.message;
    else if (!field) general.push(where ? `${where}: ${issue.message}` : issue.message);
  }
  return { ok: false, errors, general };
}

export interface FormMessage {
  kind: 'info' | 'error' | 'success';
  text: string;
}

export interface ProfileFormState {
  /** The profile as saved; the form's values are applied over it. */
  saved: Profile;
  savedValues: FieldValues;
  values: FieldValues;
  errors: Partial<Record<FieldId, string>>;
  selected: number;
  /** Text being typed into the selected field, when editing. */
  editing?: string;
  saving: boolean;
  message?: FormMessage;
  /** The profile file exists (false for a new profile until its first save). */
  exists: boolean;
}

export type ProfileFormAction =
  | { type: 'move'; delta: number }
  | { type: 'edit-start' }
  | { type: 'edit-input'; text: string }
  | { type: 'edit-backspace' }
  | { type: 'edit-clear' }
  | { type: 'edit-cancel' }
  | { type: 'edit-accept' }
  | { type: 'choice-cycle'; delta: 1 | -1 }
  | { type: 'save-rejected'; errors: Partial<Record<FieldId, string>>; general: string[] }
  | { type: 'save-started' }
  /** `followed`: the profile keys the store unset because they held the old server's defaults. */
  | { type: 'save-succeeded'; profile: Profile; where: string; followed?: readonly string[] }
  | { type: 'save-failed'; message: string }
  | { type: 'revert' };

export function initialProfileFormState(profile: Profile, exists: boolean): ProfileFormState {
  const values = readValues(profile);
  return {
    saved: profile,
    savedValues: values,
    values,
    errors: {},
    selected: 0,
    saving: false,
    exists,
    ...(exists ? {} : { message: { kind: 'info' as const, text: 'New profile: fill in the fields, then press s to save.' } }),
  };
}

export function isDirty(state: ProfileFormState): boolean {
  return FIELDS.some((field) => state.values[field.id] !== state.savedValues[field.id]);
}

function selectedField(state: ProfileFormState): FieldDef {
  return FIELDS[state.selected] ?? (FIELDS[0] as FieldDef);
}

/** Stores a value and re-validates it and the fields that depend on it. */
function setValue(state: ProfileFormState, id: FieldId, value: string): ProfileFormState {
  const values = { ...state.values, [id]: value };
  const errors = { ...state.errors };
  for (const target of [id, ...(DEPENDENTS[id] ?? [])]) {
    const field = FIELDS[fieldIndex(target)] as FieldDef;
    const message = field.validate(values[target], values);
    if (message) errors[target] = message;
    else delete errors[target];
  }
  const { message: _message, ...rest } = state;
  return { ...rest, values, errors };
}

/** Control characters never enter a field (a paste may carry newlines or escape sequences). */
function printableText(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/[\u0000-\u001f\u007f]/g, '');
}

export function profileFormReducer(state: ProfileFormState, action: ProfileFormAction): ProfileFormState {
  switch (action.type) {
    case 'move': {
      if (state.editing !== undefined) return state;
      const selected = Math.min(FIELDS.length - 1, Math.max(0, state.selected + action.delta));
      return { ...state, selected };
    }
    case 'edit-start': {
      const field = selectedField(state);
      if (field.kind === 'choice') return profileFormReducer(state, { type: 'choice-cycle', delta: 1 });
      return { ...state, editing: state.values[field.id] };
    }
    case 'edit-input':
      return state.editing === undefined ? state : { ...state, editing: state.editing + printableText(action.text) };
    case 'edit-backspace':
      return state.editing === undefined ? state : { ...state, editing: Array.from(state.editing).slice(0, -1).join('') };
    case 'edit-clear':
      return state.editing === undefined ? state : { ...state, editing: '' };
    case 'edit-cancel': {
      const { editing: _editing, ...rest } = state;
      return rest;
    }
    case 'edit-accept': {
      if (state.editing === undefined) return state;
      const { editing, ...rest } = state;
      return setValue(rest, selectedField(state).id, editing.trim());
    }
    case 'choice-cycle': {
      const field = selectedField(state);
      if (field.kind !== 'choice' || !field.choices || state.editing !== undefined) return state;
      const index = field.choices.indexOf(state.values[field.id]);
      const next = field.choices[(index + action.delta + field.choices.length) % field.choices.length] ?? field.choices[0] ?? '';
      const changed = setValue(state, field.id, next);
      if (field.id !== 'vault.server' || next === state.savedValues['vault.server']) return changed;
      // What switching does, before it is saved: the profile follows, the host does not.
      const server = formServer(changed.values);
      const other = otherServer(server).name;
      return {
        ...changed,
        message: {
          kind: 'info',
          text: `Once saved, the profile sets up ${server.name}: directories and release site left at ${other}'s defaults follow it; a host that runs ${other} is refused, not migrated.`,
        },
      };
    }
    case 'save-rejected': {
      const firstInvalid = FIELDS.findIndex((field) => action.errors[field.id] !== undefined);
      const count = Object.keys(action.errors).length;
      const text =
        count > 0
          ? `Not saved: ${count} field${count === 1 ? '' : 's'} marked invalid. Fix ${count === 1 ? 'it' : 'them'} and press s again.`
          : `Not saved: ${action.general.join('; ')}`;
      return {
        ...state,
        errors: action.errors,
        selected: firstInvalid >= 0 ? firstInvalid : state.selected,
        saving: false,
        message: { kind: 'error', text },
      };
    }
    case 'save-started':
      return { ...state, saving: true };
    case 'save-succeeded': {
      const values = readValues(action.profile);
      return {
        ...state,
        saved: action.profile,
        savedValues: values,
        values,
        errors: {},
        saving: false,
        exists: true,
        message: {
          kind: 'success',
          // What followed the switch first: a long file name is what gets cut.
          text: `Saved${action.followed?.length ? ` (${action.followed.join(', ')} now follow ${formServer(values).name}'s defaults)` : ''} to ${action.where}`,
        },
      };
    }
    case 'save-failed':
      return { ...state, saving: false, message: { kind: 'error', text: `Not saved: ${action.message}` } };
    case 'revert': {
      const { editing: _editing, ...rest } = state;
      return { ...rest, values: state.savedValues, errors: {}, message: { kind: 'info', text: 'Unsaved changes discarded.' } };
    }
  }
}
