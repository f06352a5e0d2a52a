// Two-way interop with PyCA cryptography, the reference implementation an
// independent reviewer would use (DESIGN.md section 1). Python derives every
// key ITSELF from (api_key, user_id) with the DESIGN.md snippet; the Node side
// never hands it K. Secrets go to Python through stdin JSON, never argv.
//
// Needs a python3 with `cryptography` >= 38: $PYTHON if set, else `python3`
// on PATH, else /usr/bin/python3 (where .ci/run installs Debian's
// python3-cryptography; PATH may hold another python3 without it). Missing:
// the suite fails when CI is set, and is skipped with a loud warning elsewhere.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fernetDecrypt, fernetEncrypt, fernetKeyString } from '../../src/crypto/fernet.ts';
import { deriveDataKey, generateApiKey, generateSessionToken, unwrapDataKey, wrapDataKey } from '../../src/crypto/keys.ts';
import { hashPassword } from '../../src/crypto/password.ts';
import { type Argon2RfcVector, loadVectors, repoRoot } from '../helpers/shared-vectors.ts';

const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'pyca_interop.py');

type PyAnswer = Record<string, string | boolean | undefined>;

function python(request: Record<string, unknown>): PyAnswer {
  const run = spawnSync(PYTHON, [FIXTURE], { input: JSON.stringify(request), encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`${PYTHON} ${path.basename(FIXTURE)} (${String(request.op)}) exited ${run.status}: ${run.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(run.stdout) as PyAnswer;
}

/** Why this interpreter cannot be used, or null when it can. */
function pycaUnavailable(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import cryptography.fernet, cryptography.hazmat.primitives.kdf.hkdf; import cryptography; print(cryptography.__version__)'], {
    encoding: 'utf8',
  });
  if (probe.error) return `${python} not runnable: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} has no usable "cryptography" package: ${probe.stderr.trim().split('\n').at(-1)}`;
  const [major] = probe.stdout.trim().split('.').map(Number);
  if (!major || major < 38) return `${python}: cryptography ${probe.stdout.trim()} is older than 38`;
  return null;
}

const candidates = process.env.PYTHON ? [process.env.PYTHON] : ['python3', '/usr/bin/python3'];
const problems = candidates.map((candidate) => ({ candidate, problem: pycaUnavailable(candidate) }));
const PYTHON = problems.find((p) => p.problem === null)?.candidate ?? candidates[0]!;
const unavailable = problems.every((p) => p.problem !== null) ? problems.map((p) => p.problem).join('; ') : null;
const inCi = Boolean(process.env.CI);
if (unavailable && !inCi) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! PyCA INTEROP TESTS SKIPPED: ${unavailable}\n!! Install python3 + cryptography (e.g. apt-get install python3-cryptography) to run them.\n${'!'.repeat(78)}\n`,
  );
}
const skip = unavailable && !inCi ? `PyCA unavailable: ${unavailable}` : false;

describe('PyCA cryptography interop', { skip }, () => {
  it('python3 with cryptography >= 38 is available', () => {
    assert.equal(unavailable, null, `${unavailable} (required when CI is set)`);
    const { version } = python({ op: 'version' });
    console.log(`# PyCA cryptography ${String(version)} (${PYTHON})`);
  });

  const apiKey = generateApiKey();
  const userId = randomUUID();

  it('(a) a record we encrypted decrypts in Python under the key Python derived itself', () => {
    const k = deriveDataKey(apiKey, userId);
    const record = {
      kind: 'memory',
      id: randomUUID(),
      content: 'Café meeting at 10 — bring the 🔑 and ünïcödé notes',
      tags: ['work', 'τεστ'],
      created_at: '2026-01-02T03:04:05.000Z',
      updated_at: '2026-01-02T03:04:05.000Z',
    };
    for (const plaintext of [Buffer.from(JSON.stringify(record), 'utf8'), Buffer.alloc(0), randomBytes(4096)]) {
      const token = fernetEncrypt(k, plaintext);
      const answer = python({ op: 'decrypt-record', api_key: apiKey, user_id: userId, token });
      assert.equal(answer.error, undefined, 'Python could not decrypt our token');
      assert.deepEqual(Buffer.from(String(answer.plaintext_b64), 'base64'), plaintext);
      assert.equal(answer.fernet_key, fernetKeyString(k));
    }
  });

  it('(a) Python refuses our token under another user id or another API key', () => {
    const token = fernetEncrypt(deriveDataKey(apiKey, userId), 'secret');
    assert.equal(python({ op: 'decrypt-record', api_key: apiKey, user_id: randomUUID(), token }).error, 'InvalidToken');
    assert.equal(python({ op: 'decrypt-record', api_key: generateApiKey(), user_id: userId, token }).error, 'InvalidToken');
  });

  it('(b) a record Python encrypted with its own derived key decrypts in ours via deriveDataKey', () => {
    const plaintext = Buffer.from(JSON.stringify({ kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program', '数学者'] }), 'utf8');
    const { token } = python({ op: 'encrypt-record', api_key: apiKey, user_id: userId, plaintext_b64: plaintext.toString('base64') });
    assert.equal(typeof token, 'string');
    assert.ok(String(token).startsWith('gAAAAA'));
    const k = deriveDataKey(apiKey, userId);
    assert.deepEqual(fernetDecrypt(k, String(token)), plaintext);
    // PyCA stamps the current time: it passes our TTL check judged by our clock.
    assert.deepEqual(fernetDecrypt(k, String(token), { ttlSeconds: 300 }), plaintext);
    assert.throws(() => fernetDecrypt(deriveDataKey(apiKey, randomUUID()), String(token)));
  });

  it('(c) a session wrap we made unwraps in Python (info smtry-key-wrap-v1, ikm = the token) to the same K', () => {
    const k = deriveDataKey(apiKey, userId);
    const sessionToken = generateSessionToken();
    const wrapped = wrapDataKey(sessionToken, userId, k);
    const answer = python({ op: 'unwrap', credential: sessionToken, user_id: userId, wrapped, api_key: apiKey });
    assert.equal(answer.error, undefined, 'Python could not unwrap our wrap');
    assert.equal(answer.k_hex, k.toString('hex'));
    assert.equal(answer.derived_k_hex, k.toString('hex'), "Python's own K from the API key is the unwrapped K");
    assert.equal(python({ op: 'unwrap', credential: generateSessionToken(), user_id: userId, wrapped, api_key: apiKey }).error, 'InvalidToken');
  });

  it('(c) a wrap Python made (pending-key style, credential = an API key) unwraps in ours', () => {
    const pending = generateApiKey();
    const { wrapped } = python({ op: 'wrap', credential: pending, user_id: userId, api_key: apiKey });
    assert.deepEqual(unwrapDataKey(pending, userId, String(wrapped)), deriveDataKey(apiKey, userId));
  });

  it('RFC 9106 section 5.3 Argon2id vector (secret + associated data) via PyCA Argon2id', (t) => {
    // @node-rs/argon2 takes a `secret` but has no associated-data input, so our
    // own stack cannot compute this vector; PyCA (>= 44) can, and does it here.
    // test/crypto/password.test.ts also checks it (H0 with node's BLAKE2b, the
    // tag with a test-only reference Argon2id), so it is checked even where
    // this one is skipped.
    const v = loadVectors<Argon2RfcVector>('argon2/rfc9106-argon2id.json');
    const answer = python({ op: 'argon2id-raw', password: v.password, salt: v.salt, secret: v.secret, ad: v.ad, t: v.t, m: v.m, p: v.p, length: v.tagLength });
    if (answer.unsupported) {
      console.warn(`!! RFC 9106 tag not checked: ${String(answer.unsupported)}`);
      t.skip(String(answer.unsupported));
      return;
    }
    assert.equal(answer.tag, v.tag);
  });

  it('a password hash we made verifies in PyCA (Argon2id.verify_phc_encoded), a wrong password does not', async (t) => {
    const phc = await hashPassword('correct horse battery staple ✓');
    const right = python({ op: 'argon2id-verify-phc', password: 'correct horse battery staple ✓', phc });
    if (right.unsupported) {
      t.skip(String(right.unsupported));
      return;
    }
    assert.equal(right.verified, true);
    assert.equal(python({ op: 'argon2id-verify-phc', password: 'correct horse battery staple', phc }).verified, false);
  });
});
