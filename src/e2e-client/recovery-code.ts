// The recovery code (docs/e2e-protocol.md §1): 20 CSPRNG bytes shown once as
// 32 Crockford base32 characters in 8 groups of 4. Typing it back is
// forgiving: any case, with or without dashes or spaces, O read as 0 and
// I or L as 1.
import { randomBytes } from './encoding.ts';

const CODE_BYTES = 20;
/** The code's strength, as the security page states it. */
export const RECOVERY_CODE_BITS = CODE_BYTES * 8;
const CODE_CHARS = 32;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const VALUES = new Map([...CROCKFORD].map((c, i) => [c, i]));

/** A typed code that is not 32 Crockford base32 characters once normalised. The message never repeats it. */
export class InvalidRecoveryCode extends Error {
  constructor() {
    super('a recovery code is 32 characters from 0-9 and A-Z without I, L, O and U, in groups of 4 (XXXX-XXXX-…)');
    this.name = 'InvalidRecoveryCode';
  }
}

export interface RecoveryCode {
  /** What the user writes down: `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`. */
  text: string;
  /** The 20 bytes the wrap and the proof are derived from. */
  bytes: Uint8Array<ArrayBuffer>;
}

export function makeRecoveryCode(): RecoveryCode {
  const bytes = randomBytes(CODE_BYTES);
  return { text: formatRecoveryCode(bytes), bytes };
}

/** 20 bytes as 8 dash-separated groups of 4 Crockford base32 characters (160 bits, no padding). */
export function formatRecoveryCode(bytes: Uint8Array): string {
  if (bytes.length !== CODE_BYTES) throw new RangeError('a recovery code is 20 bytes');
  let acc = 0;
  let bits = 0;
  let chars = '';
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      chars += CROCKFORD[(acc >> bits) & 31]!;
      acc &= (1 << bits) - 1;
    }
  }
  return chars.match(/.{4}/g)!.join('-');
}

/** The canonical 32 characters of what the user typed (upper case, no separators, O→0, I/L→1). */
export function normaliseRecoveryCode(typed: string): string {
  const chars = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (chars.length !== CODE_CHARS || [...chars].some((c) => !VALUES.has(c))) throw new InvalidRecoveryCode();
  return chars;
}

/** The 20 bytes of a typed code; InvalidRecoveryCode when it cannot be one. */
export function parseRecoveryCode(typed: string): RecoveryCode {
  const chars = normaliseRecoveryCode(typed);
  const bytes = new Uint8Array(CODE_BYTES);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const c of chars) {
    acc = (acc << 5) | VALUES.get(c)!;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  return { text: formatRecoveryCode(bytes), bytes };
}
