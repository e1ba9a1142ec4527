/**
 * The files the product writes on the host come from `assets/`: real files a user can read and
 * diff. This module finds that directory (from the TypeScript sources in tests and from the built
 * `dist/` of the CLI) and fills in templates.
 *
 * Template syntax is deliberately tiny: `{{name}}`, nothing else (no logic, no defaults). Every
 * value is escaped for the place it lands in, by the template's escaper, and a placeholder without
 * a value is an error: a config file with an empty address or path must never reach a host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerKind } from './server.js';

/** What a template escapes its values for. */
export type TemplateSyntax = 'hcl' | 'systemd';

export interface AssetTemplate {
  /** File name under assets/, e.g. `vault_main.hcl`. */
  name: string;
  syntax: TemplateSyntax;
}

export const VAULT_CONFIG_TEMPLATE: AssetTemplate = { name: 'vault_main.hcl', syntax: 'hcl' };
export const VAULT_UNIT_TEMPLATE: AssetTemplate = { name: 'vault.service', syntax: 'systemd' };
export const OPENBAO_CONFIG_TEMPLATE: AssetTemplate = { name: 'openbao.hcl', syntax: 'hcl' };
export const OPENBAO_UNIT_TEMPLATE: AssetTemplate = { name: 'openbao.service', syntax: 'systemd' };

/** The server configuration template of a server: its keys differ (OpenBao refuses disable_mlock). */
export function serverConfigTemplate(server: ServerKind): AssetTemplate {
  return server === 'openbao' ? OPENBAO_CONFIG_TEMPLATE : VAULT_CONFIG_TEMPLATE;
}

/** The systemd unit template of a server, each following its project's own packaged unit. */
export function serverUnitTemplate(server: ServerKind): AssetTemplate {
  return server === 'openbao' ? OPENBAO_UNIT_TEMPLATE : VAULT_UNIT_TEMPLATE;
}

/** A template was wrong or a value cannot be written safely where the template puts it. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;
const MARKER_LEFT = /\{\{/;

let assetsDirCache: string | undefined;

/**
 * The assets/ directory. From source (source/core/assets.ts) it is two levels up; from the built
 * CLI (dist/*.js, where esbuild places every chunk) it is one level up. The first candidate that
 * holds the config template wins.
 */
export function assetsDir(): string {
  if (assetsDirCache !== undefined) return assetsDirCache;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'assets'), join(here, '..', '..', 'assets')];
  const found = candidates.find((dir) => existsSync(join(dir, VAULT_CONFIG_TEMPLATE.name)));
  if (!found) {
    throw new Error(`the assets directory was not found (looked in ${candidates.join(', ')}); the installation is incomplete`);
  }
  assetsDirCache = found;
  return found;
}

export function readAsset(name: string): string {
  return readFileSync(join(assetsDir(), name), 'utf8');
}

export type TemplateValues = Readonly<Record<string, string | number>>;

/** Reads assets/<template.name> and fills it in. */
export function renderAsset(template: AssetTemplate, values: TemplateValues): string {
  return renderTemplate(readAsset(template.name), values, template.syntax, template.name);
}

/**
 * Fills `{{name}}` placeholders. Every placeholder must have a value, every value must be used
 * (a value the template forgot is as much a bug as a missing one), and each value is escaped for
 * its context by `syntax`.
 */
export function renderTemplate(text: string, values: TemplateValues, syntax: TemplateSyntax, label = 'template'): string {
  const used = new Set<string>();
  const lines = text.split('\n').map((line, index) => {
    const rendered = line.replace(PLACEHOLDER, (_match, name: string, offset: number) => {
      const value = values[name];
      if (value === undefined) throw new TemplateError(`${label}:${index + 1}: no value for {{${name}}}`);
      used.add(name);
      const context = line.slice(0, offset);
      return syntax === 'hcl' ? escapeHcl(String(value), context, name, label, index + 1) : escapeSystemd(String(value), context, name, label, index + 1);
    });
    // A `{{` left after replacing is a malformed placeholder (e.g. `{{ 1x }}` or an unclosed one).
    if (MARKER_LEFT.test(line.replace(PLACEHOLDER, ''))) throw new TemplateError(`${label}:${index + 1}: malformed placeholder`);
    return rendered;
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) throw new TemplateError(`${label}: values not used by the template: ${unused.join(', ')}`);
  return lines.join('\n');
}

function rejectControl(value: string, name: string, label: string, line: number): void {
  // Newlines would end the statement/directive and start another one the template never had.
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new TemplateError(`${label}:${line}: the value of ${name} contains a control character`);
}

/**
 * HCL: placeholders only inside double-quoted strings, where `\` and `"` are escaped
 * (HCL v1 string escapes: https://github.com/hashicorp/hcl/blob/hcl1/README.md#syntax).
 * A placeholder outside a string would let a value write syntax, so the template is refused.
 */
function escapeHcl(value: string, before: string, name: string, label: string, line: number): string {
  if (!insideDoubleQuotes(before)) throw new TemplateError(`${label}:${line}: {{${name}}} must be inside a double-quoted string`);
  rejectControl(value, name, label, line);
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}

function insideDoubleQuotes(before: string): boolean {
  let inside = false;
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (inside && c === '\\') {
      i++;
      continue;
    }
    if (c === '"') inside = !inside;
    if (!inside && c === '#') return false;
  }
  return inside;
}

/**
 * systemd unit files (systemd.unit(5) "specifiers", systemd.service(5) "Command lines"):
 * `%` starts a specifier everywhere, so it is doubled. On Exec* lines words are split on
 * whitespace, `$` expands variables and C escapes apply, so `\`, quotes and whitespace are escaped
 * and `$` doubled. On other lines the value is the rest of the line, trimmed, so leading or
 * trailing whitespace cannot be kept and is refused.
 * https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html#Command%20lines
 */
function escapeSystemd(value: string, before: string, name: string, label: string, line: number): string {
  rejectControl(value, name, label, line);
  if (!before.includes('=')) throw new TemplateError(`${label}:${line}: {{${name}}} must be in the value of a directive`);
  const directive = before.slice(0, before.indexOf('=')).trim();
  const percent = value.replaceAll('%', '%%');
  if (/^Exec/.test(directive)) {
    return percent.replace(/[\\"' $]/g, (c) => ({ '\\': '\\\\', '"': '\\"', "'": "\\'", ' ': '\\s', $: '$$' })[c] ?? c);
  }
  if (value.trim() !== value) throw new TemplateError(`${label}:${line}: the value of ${name} starts or ends with whitespace`);
  return percent;
}
