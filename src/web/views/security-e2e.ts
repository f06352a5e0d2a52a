// The security page's section on end-to-end accounts: what the device does,
// what the server keeps and sees, and what that still cannot stop. The
// parameters come from the client core's own constants, so the page cannot
// drift from the code that runs on the device.
import { KEY_STRETCHING } from '../../e2e-client/account.ts';
import { MANIFEST_KEY_INFO, PASSWORD_WRAP_INFO, RECOVERY_AUTH_INFO, RECOVERY_WRAP_INFO } from '../../e2e-client/keys.ts';
import { RECOVERY_CODE_BITS } from '../../e2e-client/recovery-code.ts';
import { E2E_SESSION_IDLE_MS } from '../../e2e/sessions.ts';
import { html } from '../html.ts';
import type { RuntimeVersions } from '../runtime-versions.ts';

/** What `memory-constrained` means in @serenity-kit/opaque (RFC 9106 §4, second recommended option). */
const STRETCHING = { name: KEY_STRETCHING, memoryMiB: 64, iterations: 3, parallelism: 4 };

export function endToEndSection(versions: RuntimeVersions) {
  return html`<h2 id="end-to-end">End-to-end accounts</h2>
<p>An end-to-end account is an opt-in mode beside the one above. Its data key is 32 random bytes made on your device, in the browser or in the local MCP server (<code>anamnesis-local</code>). The server never receives that key, your password, or anything it could turn into the key without guessing your password. It stores and serves only ciphertext.</p>
<ul>
  <li><strong>Log-in never sends your password.</strong> Your device and the server run OPAQUE (RFC 9807) through <code>@serenity-kit/opaque</code> ${versions.opaque} (Facebook's opaque-ke in WebAssembly). Your device stretches the password with Argon2id (${STRETCHING.name}: ${STRETCHING.memoryMiB} MiB, ${STRETCHING.iterations} passes, parallelism ${STRETCHING.parallelism}) inside the protocol. The server keeps only OPAQUE's registration record, which holds no password and no hash of one that could be tested without the server's own secret.</li>
  <li><strong>Your data key is stored only wrapped, twice.</strong> Once under a key your device derives from a successful OPAQUE log-in (HKDF of OPAQUE's export key, info <code>${PASSWORD_WRAP_INFO}</code>), once under a key from your recovery code (info <code>${RECOVERY_WRAP_INFO}</code>). The server hands the recovery wrap only to someone who proves the code (it keeps a SHA-256 of a proof derived with info <code>${RECOVERY_AUTH_INFO}</code>).</li>
  <li><strong>Your recovery code is ${RECOVERY_CODE_BITS} random bits,</strong> shown once, when the account is made. It opens the account when every device is lost. <strong>If you lose both your password and your recovery code, your memories are gone:</strong> nobody can open them, us included. The sign-up page says so before the account exists.</li>
  <li><strong>The server cannot change your records unnoticed.</strong> Each record is one Fernet token whose plaintext names the record's id and version, so your device refuses a record moved to another id or an older version served again. A manifest, a MAC over the id and version of every live record under a key derived from your data key (info <code>${MANIFEST_KEY_INFO}</code>), lets a device notice a record the server dropped or rolled back.</li>
  <li><strong>Devices sync through the server.</strong> Every change gets the next number in your account's sequence; each device asks for the changes after the last one it saw, and writes name the version they change, so two devices editing offline meet as a conflict that your device resolves without losing either side. A deletion is a token too, kept for a set number of days so every device learns of it.</li>
  <li><strong>A session is a random token</strong> (<code>ane_…</code>) the server keeps only as SHA-256. It wraps nothing, because the server has nothing to wrap; it only lets a device read and write your ciphertext. It lapses after ${Math.round(E2E_SESSION_IDLE_MS / 86_400_000)} days unused.</li>
  <li><strong>Switching an existing account</strong> happens in your browser: it reads your records, makes a fresh key, re-encrypts every record under it and sends them; the server then deletes the old records, your API key's hash, your sessions and your connected apps in one transaction. Backups or exports made before the switch stay readable by the old API key.</li>
</ul>
<h3>What the server still sees and can do</h3>
<ul>
  <li>For each record: its id, version, sequence number, size, and when it was written. Memory ids are random; an entity's or relation's id is a keyed hash of its name, so the server sees that the same entity is written again, never its name. It also sees your email, how many records you have, when and from which address your devices connect.</li>
  <li>Someone holding the database <em>and</em> the server's OPAQUE secret can guess passwords offline, each guess costing one Argon2id at the parameters above. That is the limit of every password-based log-in; a long password is the defence. When the server is given its OPAQUE secret through <code>ANAMNESIS_OPAQUE_SERVER_SETUP</code>, the database does not hold it, and a copy of the database alone allows no guessing at all.</li>
  <li>A server that stops answering, or refuses to store new changes, cannot be prevented; your devices keep their own copy.</li>
  <li>The browser client's code comes from this server (below). The local MCP server is the stronger client: its code is what you installed, and it does not change when the server does.</li>
</ul>`;
}
