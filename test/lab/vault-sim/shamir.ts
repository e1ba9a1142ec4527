// Shamir's secret sharing over GF(2^8), laid out like Vault's shamir package
// (https://github.com/hashicorp/vault/blob/main/shamir/shamir.go): every share is the y-values
// for each secret byte followed by ONE byte holding the share's x coordinate; x coordinates are a
// random permutation of 1..255, and each secret byte has its own random polynomial whose
// constant term is that byte.
import { randomBytes, randomInt } from 'node:crypto';

// Exp/log tables for GF(256) with the AES reduction polynomial x^8+x^4+x^3+x+1 (0x11b) and
// generator 3.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let value = 1;
  for (let power = 0; power < 255; power++) {
    EXP[power] = value;
    LOG[value] = power;
    // multiply by the generator 3 = x + 1: value*2 xor value, reduced mod 0x11b
    let doubled = value << 1;
    if (doubled & 0x100) doubled ^= 0x11b;
    value = doubled ^ value;
  }
  for (let power = 255; power < 510; power++) EXP[power] = EXP[power - 255]!;
}

export function multiply(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

function divide(a: number, b: number): number {
  if (b === 0) throw new Error('divide by zero');
  if (a === 0) return 0;
  return EXP[(LOG[a]! - LOG[b]! + 255) % 255]!;
}

/** Evaluates the polynomial with the given coefficients (constant term first) at x. */
function evaluate(coefficients: Uint8Array, x: number): number {
  let result = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) result = multiply(result, x) ^ coefficients[i]!;
  return result;
}

/** Splits `secret` into `parts` shares, any `threshold` of which rebuild it (Vault's messages). */
export function split(secret: Uint8Array, parts: number, threshold: number): Buffer[] {
  if (parts < threshold) throw new Error('parts cannot be less than threshold');
  if (parts > 255) throw new Error('parts cannot exceed 255');
  if (threshold < 2) throw new Error('threshold must be at least 2');
  if (threshold > 255) throw new Error('threshold cannot exceed 255');
  if (secret.length === 0) throw new Error('cannot split an empty secret');

  // Random distinct x coordinates in 1..255 (a Fisher-Yates prefix of a permutation).
  const xs = Array.from({ length: 255 }, (_, i) => i + 1);
  for (let i = 0; i < parts; i++) {
    const j = i + randomInt(255 - i);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }

  const shares = Array.from({ length: parts }, (_, i) => {
    const share = Buffer.alloc(secret.length + 1);
    share[secret.length] = xs[i]!;
    return share;
  });
  for (let byteIndex = 0; byteIndex < secret.length; byteIndex++) {
    const coefficients = new Uint8Array(threshold);
    coefficients[0] = secret[byteIndex]!;
    coefficients.set(randomBytes(threshold - 1), 1);
    for (let i = 0; i < parts; i++) shares[i]![byteIndex] = evaluate(coefficients, xs[i]!);
  }
  return shares;
}

/** Rebuilds the secret from shares by Lagrange interpolation at x = 0 (Vault's messages). */
export function combine(shares: Uint8Array[]): Buffer {
  if (shares.length < 2) throw new Error('less than two parts cannot be used to reconstruct the secret');
  const length = shares[0]!.length;
  if (length < 2) throw new Error('parts must be at least two bytes');
  if (shares.some((share) => share.length !== length)) throw new Error('all parts must be the same length');

  const xs = shares.map((share) => share[length - 1]!);
  if (new Set(xs).size !== xs.length) throw new Error('duplicate part detected');

  const secret = Buffer.alloc(length - 1);
  for (let byteIndex = 0; byteIndex < length - 1; byteIndex++) {
    let value = 0;
    for (let i = 0; i < shares.length; i++) {
      // basis polynomial l_i(0) = prod_{j != i} x_j / (x_j - x_i); subtraction is xor in GF(2^8)
      let basis = 1;
      for (let j = 0; j < shares.length; j++) {
        if (i === j) continue;
        basis = multiply(basis, divide(xs[j]!, xs[j]! ^ xs[i]!));
      }
      value ^= multiply(shares[i]![byteIndex]!, basis);
    }
    secret[byteIndex] = value;
  }
  return secret;
}
