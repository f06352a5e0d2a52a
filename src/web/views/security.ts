// The public security page: what this code does, filled from the constants it
// uses and the library versions it runs, so the page cannot drift from it.
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from '../../accounts/sessions.ts';
import { PENDING_KEY_TTL_MS } from '../../accounts/key-rotation.ts';
import { DATA_KEY_INFO, FORMAT_VERSION, KEY_WRAP_INFO, LOOKUP_KEY_INFO } from '../../crypto/keys.ts';
import { PASSWORD_HASH_PARAMS } from '../../crypto/password.ts';
import { DEFAULT_OAUTH_SETTINGS } from '../../oauth/settings.ts';
import { html } from '../html.ts';
import type { RuntimeVersions } from '../runtime-versions.ts';
import type { WebRelease } from '../e2e/release.ts';
import { releaseSection } from '../e2e/views.ts';
import { layout, type PageContext } from './layout.ts';
import { endToEndSection } from './security-e2e.ts';
import { GRANT_CAN, GRANT_CANNOT } from './oauth.ts';

const days = (ms: number) => Math.round(ms / 86_400_000);

/** The reproduction script, with the HKDF info string taken from the code. */
export function pythonReproduction(): string {
  return `import base64
import json

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

API_KEY = "anm_your_key"                        # shown once at sign-up
EXPORT = "anamnesis-export.encrypted.jsonl"     # Import & export → encrypted export

with open(EXPORT, encoding="utf-8") as export:
    header = json.loads(next(export))
    user_id = header["user_id"]
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=user_id.encode(),
             info=b"${DATA_KEY_INFO}").derive(API_KEY.encode())
    fernet = Fernet(base64.urlsafe_b64encode(k))
    for line in export:
        record = json.loads(line)
        print(json.loads(fernet.decrypt(record["token"])))
`;
}

export function securityView(ctx: PageContext, versions: RuntimeVersions, release: WebRelease) {
  const p = PASSWORD_HASH_PARAMS;
  return layout(ctx, {
    title: 'Security',
    body: html`<h1>How your memory stays yours.</h1>
<p class="lead">What this service actually does, in specific words: algorithms, parameters and library versions read from the running code, the attacks it defends against, and the ones it does not yet. No boilerplate.</p>

<h2>What we do</h2>
<div class="grid">
  <div class="card"><h3>No master key</h3><p>Every account's memory is encrypted with a key derived from that account's own API key. There is no site-wide key, so a full copy of the database, its backups and its logs decrypts nothing.</p></div>
  <div class="card"><h3>Derived, never stored</h3><p>The data key is recomputed with HKDF on every API request, held by the one object serving that request, and dropped with it. No keyring, cache or log ever holds it.</p></div>
  <div class="card"><h3>One account, one blast radius</h3><p>Each account's data is under its own derivation: a leaked key exposes that account only.</p></div>
</div>

<h2>Where this differs from what you may have read</h2>
<ul>
  <li><strong>API keys are stored only as SHA-256 hashes.</strong> The server never keeps your key; it can derive your data key only while a request that carries it is running.</li>
  <li><strong>Rotating your key keeps your data.</strong> Every record is re-encrypted under the new key in one transaction (all or nothing); every wrapped copy of the old key is deleted, so the old key opens nothing afterwards. Rotation takes two steps, so you see the new key before the old one stops working; an unconfirmed new key expires after ${Math.round(PENDING_KEY_TTL_MS / 60_000)} minutes.</li>
  <li><strong>Your password never decrypts anything.</strong> It is checked with argon2id to log you in to this website, and nothing else. A logged-in browser is locked until you unlock it with your API key.</li>
  <li><strong>Browser sessions hold your data key wrapped, not in the clear.</strong> An unlocked session stores your data key encrypted under a random session token that lives only in your browser's cookie; the server keeps only a SHA-256 hash of that token. Logging out or revoking the session deletes the wrapped key.</li>
  <li><strong>Apps you connect with OAuth (claude.ai, ChatGPT, Claude Desktop's “Add custom connector”) get a grant, not your key.</strong> You approve each one in an unlocked browser. A connected app can ${GRANT_CAN}. It cannot ${GRANT_CANNOT}. Its tokens are accepted only by this server's <code>/mcp</code>. Like a session, each of its tokens holds your data key only wrapped under the token itself, and the server keeps only a SHA-256 hash of it, so its database plus its list of apps still decrypts nothing. Access tokens last ${Math.round(DEFAULT_OAUTH_SETTINGS.accessTtlMs / 60_000)} minutes; refresh tokens are replaced on every use, and a refresh token used twice ends the whole grant. Disconnecting an app under Connected apps, rotating your key, starting over or deleting your account ends its access at once.</li>
  <li><strong>If you lose your API key, your memories are gone.</strong> You can log in with your password and start over with a new key, but the old records cannot be decrypted by anyone, us included, and are deleted.</li>
</ul>

<h2>The cryptography</h2>
<p>Security should depend on the key, not on hiding the algorithm. The full stack, with the versions running on this server right now:</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Purpose</th><th scope="col">Primitive</th><th scope="col">Details</th></tr></thead>
<tbody>
<tr><th scope="row">Data at rest</th><td>Fernet</td><td>AES-128-CBC with PKCS7 padding, authenticated by HMAC-SHA256 (Fernet spec version 0x80). One token per record, recognisable by its <code>gAAAAA</code> prefix. Record format version <code>${FORMAT_VERSION}</code>.</td></tr>
<tr><th scope="row">Data key</th><td>HKDF-SHA256</td><td>32-byte key K; ikm = your whole API key (UTF-8), salt = your user id (UTF-8), info = <code>${DATA_KEY_INFO}</code>. K[0:16] signs, K[16:32] encrypts.</td></tr>
<tr><th scope="row">API key</th><td>CSPRNG, SHA-256</td><td><code>anm_</code> + base64url of 32 random bytes. Stored only as hex SHA-256, compared in constant time.</td></tr>
<tr><th scope="row">Session key wrap</th><td>HKDF-SHA256 + Fernet</td><td>Wrap key = HKDF(ikm = the 32-byte random session token, salt = user id, info = <code>${KEY_WRAP_INFO}</code>); stored: Fernet(wrap key).encrypt(K) and SHA-256 of the token. Sessions expire after ${days(SESSION_IDLE_MS)} days idle, ${days(SESSION_ABSOLUTE_MS)} days at most.</td></tr>
<tr><th scope="row">OAuth tokens</th><td>CSPRNG, SHA-256, HKDF + Fernet</td><td>Authorization codes, access and refresh tokens are 32 random bytes each, stored as SHA-256 with K wrapped exactly like a session's. PKCE S256 only; a code lives ${Math.round(DEFAULT_OAUTH_SETTINGS.codeTtlMs / 60_000)} minutes and works once; refresh tokens last ${days(DEFAULT_OAUTH_SETTINGS.refreshTtlMs)} days unused.</td></tr>
<tr><th scope="row">Keyed lookups</th><td>HKDF-SHA256 + HMAC-SHA256</td><td>To find a graph entity by name without storing it: HMAC under a sub-key HKDF(K, info = <code>${LOOKUP_KEY_INFO}</code>). Rebuilt under the new key on rotation.</td></tr>
<tr><th scope="row">Search index</th><td>Fernet + HMAC-SHA256</td><td>Search reads keyed, bucketed indexes: of your memories by the first letters of each word, and of your graph by every three-letter piece of each name, type and observation. A bucket is picked by a keyed hash only your key computes and stored as a few Fernet tokens under K, plus one small token per recent change, so a search decrypts only the buckets its words fall in and the records it may answer with, never your whole history. No word, tag or name is stored outside a token; nothing decrypted is kept once the request is answered. Rebuilt under the new key on rotation.</td></tr>
<tr><th scope="row">Password</th><td>argon2id</td><td>m = ${p.memoryCost} KiB, t = ${p.timeCost}, p = ${p.parallelism}, ${p.saltLen}-byte salt, ${p.outputLen}-byte tag (OWASP 2023 baseline). Authentication only; never an input to any key.</td></tr>
<tr><th scope="row">In transit</th><td>TLS 1.3</td><td>At the edge (Caddy). Session cookie: HttpOnly, Secure, SameSite=Lax; pages send a strict Content-Security-Policy; forms carry a per-session CSRF token and are checked for same origin.</td></tr>
<tr><th scope="row">Libraries</th><td>running now</td><td>Node.js ${versions.node} <code>node:crypto</code> (HKDF, AES, HMAC, SHA-256, CSPRNG) on OpenSSL ${versions.openssl}; <code>@node-rs/argon2</code> ${versions.argon2}. PyCA <code>cryptography</code> reproduces every record (below). We don't roll our own primitives.</td></tr>
</tbody>
</table></div>

${endToEndSection(versions)}

<h2 id="browser-client">The browser client of end-to-end accounts</h2>
<p>An end-to-end account is opened in your browser by the pages under <code>/e2e/</code>: your password goes only into an OPAQUE log-in, which never sends it; your data key is made and unwrapped in the browser with WebCrypto; records leave the browser only as Fernet tokens. The browser keeps your session token, your key and a cache of the ciphertext in this site's IndexedDB, so it also works offline; logging out erases them. The key is kept only as non-extractable WebCrypto keys (the two halves of your data key, and the key derived from it that checks the record set): script on the page can use them but the browser refuses to hand their bytes to any script, so a script cannot copy the key out and use it elsewhere. That has limits: a script running in this site's pages can still use the keys to decrypt your memories while it runs, and the browser itself stores the key material in its profile on your disk, where someone who can read your files with the right tools can recover it. Log out on computers you share.</p>
<ul>
  <li><strong>How that code is served.</strong> One file, built reproducibly from the source with esbuild, served under a name that carries its hash, and loaded with Subresource Integrity (SHA-384), so the browser runs it only if it is exactly the file the page names. These pages send a Content-Security-Policy that allows scripts from this site only, no inline script and nothing from anyone else; the one addition is <code>'wasm-unsafe-eval'</code>, which lets the OPAQUE WebAssembly compile and allows no JavaScript eval.</li>
  <li><strong>A published hash per release.</strong> The hash of each release's bundle is committed with its source (<code>src/web/e2e/release.json</code>), and a test fails when the code and the published hash differ. Anyone can rebuild it from the source and compare.</li>
  <li><strong>What this cannot stop: a malicious server can still ship bad code to your browser.</strong> The page and the hash on its script tag come from the same server, so Subresource Integrity and the policy keep out third parties and swapped files, not the server itself: a compromised or coerced server could send you, and only you, a page that leaks your key the next time you log in. You can compare the file your browser runs with the published hash below, but your browser does not check it for you on every visit.</li>
  <li><strong>The local MCP server is the stronger client.</strong> It is installed once on your computer and does not change when the server does, so a server that turns bad cannot reach your key through it.</li>
</ul>
${releaseSection(release.served, release.published)}

<h2>The threat model</h2>
<div class="grid">
  <div class="card">
    <h3>We defend against</h3>
    <ul>
      <li>A database breach, even with the table that maps rows to users: records are ciphertext, keys and tokens are only hashes.</li>
      <li>A leaked backup or disk snapshot: the same ciphertext and hashes.</li>
      <li>Casual insider browsing: nothing at rest is readable without a live credential.</li>
      <li>Log inspection: logs hold metadata (time, route, status, user id), never content, keys, tokens or passwords.</li>
      <li>One leaked credential spreading: it opens one account, and rotation or revocation closes it.</li>
      <li>Cross-site request forgery and script injection on these pages: same-origin and token checks on every form, auto-escaped pages, no inline script.</li>
    </ul>
  </div>
  <div class="card">
    <h3>We don't yet defend against</h3>
    <ul>
      <li>A full compromise of a running server: each request carries your API key or session token, so an attacker inside the process could capture keys as requests arrive.</li>
      <li>A determined operator with production shell access who intercepts live requests.</li>
      <li>The model itself: once a memory is given to Claude, it is subject to that provider's handling, not ours.</li>
      <li>A compromised client: your laptop, browser or MCP client holds your key.</li>
      <li>Metadata: how many records you have, their sizes and when they changed are visible to the server. So is the shape of your encrypted search indexes: how many of their buckets are in use and how big each is, how many graph entities are indexed and roughly how many relations touch each one, and, to someone watching the database while you use it, which buckets a search reads (a graph search reads those of its rarest three-letter pieces, so whether any of them is rare shows), which records it answers with and which buckets a write changes (never the words: a bucket is picked by a keyed hash only your key computes).</li>
    </ul>
  </div>
</div>

<h2>What we don't claim</h2>
<div class="card">
  <p><strong>A server-key account is not end-to-end encrypted.</strong> End-to-end encryption means the server never has the material to decrypt your data. Here, your API key reaches the server with each request, and from it the server derives your data key for the length of that request. A compromised or coerced server could decrypt your memory while you use it; it cannot do so from what it stores.</p>
  <p>We won't call this "end-to-end" or "zero-knowledge". What we do provide (no master key, per-user derivation, no stored keys, nothing readable at rest) is stronger than the usual "encrypted at rest", but it is not the architecture of Signal or Proton Mail.</p>
  <p><strong>End-to-end accounts</strong> are the opt-in exception: their key is made on your device, and the server stores and serves only what it cannot read. What that still cannot stop is under <a href="#browser-client">the browser client</a>.</p>
</div>

<h2>Reproduce it yourself</h2>
<p>Download your encrypted export, then decrypt every record with PyCA <code>cryptography</code> alone (<code>pip install cryptography</code>):</p>
<pre><code id="python-reproduction">${pythonReproduction()}</code></pre>`,
  });
}
