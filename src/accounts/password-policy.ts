// What a password must be before we hash it: long enough and not one that
// attackers try first. Each refusal says why, in words a person can act on.
import { COMMON_PASSWORDS } from './common-passwords.ts';

export const MIN_PASSWORD_CHARS = 12;
/** Bounded so a huge password cannot make hashing a denial of service. */
export const MAX_PASSWORD_CHARS = 256;

export function passwordProblem(password: string, email: string): string | null {
  const chars = [...password].length;
  if (chars < MIN_PASSWORD_CHARS) return `the password must be at least ${MIN_PASSWORD_CHARS} characters long`;
  if (chars > MAX_PASSWORD_CHARS) return `the password must be at most ${MAX_PASSWORD_CHARS} characters long`;
  const folded = password.toLowerCase();
  if (COMMON_PASSWORDS.has(folded)) return 'this password is on a list of commonly used passwords; choose another';
  if (new Set(folded).size <= 2) return 'the password repeats too few different characters';
  const localPart = email.split('@')[0]?.toLowerCase() ?? '';
  if (localPart.length >= 4 && folded.includes(localPart)) return 'the password must not contain your email address';
  return null;
}
