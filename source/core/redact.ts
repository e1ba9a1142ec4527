/**
 * One redactor per process knows every secret value the process has seen (unseal keys, root token,
 * created tokens, passwords typed by the user) and masks them in everything that is logged or shown.
 * The runner passes every log line and error message through it, so a step cannot leak a secret by
 * printing a command's output.
 */
export const REDACTED = '********';

/** Secrets shorter than this are not registered: masking "1" or "ab" would garble every log line. */
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  readonly #secrets = new Set<string>();
  #pattern: RegExp | undefined;

  /** Registers a secret; it is masked in every later call to redact(). Also masks it trimmed. */
  register(value: string): void {
    for (const candidate of [value, value.trim()]) {
      if (candidate.length >= MIN_SECRET_LENGTH && !this.#secrets.has(candidate)) {
        this.#secrets.add(candidate);
        this.#pattern = undefined;
      }
    }
  }

  get size(): number {
    return this.#secrets.size;
  }

  redact(text: string): string {
    if (this.#secrets.size === 0 || text.length === 0) return text;
    this.#pattern ??= this.#compile();
    return text.replace(this.#pattern, REDACTED);
  }

  #compile(): RegExp {
    // Longest first, so a secret that contains another is masked whole.
    const alternatives = [...this.#secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    return new RegExp(alternatives.join('|'), 'g');
  }
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
