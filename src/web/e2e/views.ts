// The end-to-end client's pages, rendered by the server as shells: the
// markup and every warning are here, and the bundle (loaded with Subresource
// Integrity) does the work in the browser. Forms sit in a disabled fieldset
// that only the bundle enables, so without it nothing (least of all a
// password) can be sent to the server.
import { MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS } from '../../accounts/password-policy.ts';
import { LIMITS } from '../../vault/records.ts';
import { html, type Html } from '../html.ts';
import { layout, type PageContext } from '../views/layout.ts';
import type { ReleaseManifest } from './release.ts';

/** Said before an end-to-end account exists, on sign-up and on the switch page. */
export const NO_RESCUE_WARNING = 'Your password and your recovery code are the only two ways to your memories. We never have your key, so we cannot reset either of them: lose both and your memories are gone for good, for you and for us.';

function e2eNav(ctx: PageContext, signedIn: boolean): Html {
  const link = (href: string, label: string) => html`<a href="${href}" ${ctx.path === href ? html`aria-current="page"` : ''}>${label}</a>`;
  return html`${link('/', 'Home')}${link('/security', 'Security')}<span class="spacer"></span>${signedIn
    ? html`${link('/e2e/app', 'Memories')}${link('/e2e/graph', 'Graph')}<button type="button" class="link" data-e2e-logout>Log out</button>`
    : html`${link('/e2e/login', 'Log in')}${link('/e2e/signup', 'Sign up')}`}`;
}

const noScript = html`<noscript><p class="notice error">End-to-end mode decrypts in your browser: it needs JavaScript. Nothing you type here is sent without it.</p></noscript>`;

function passwordFields(autocomplete: 'new-password' | 'current-password', label = 'Password'): Html {
  if (autocomplete === 'current-password') {
    return html`<label for="password">${label}</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="${MAX_PASSWORD_CHARS}">`;
  }
  return html`<label for="password">${label} <span class="hint">At least ${MIN_PASSWORD_CHARS} characters; a passphrase of several words is best. It never leaves this browser.</span></label>
    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_CHARS}" maxlength="${MAX_PASSWORD_CHARS}">
    <label for="password-again">The same password again</label>
    <input id="password-again" name="password_again" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_CHARS}" maxlength="${MAX_PASSWORD_CHARS}">`;
}

/** Where a new recovery code is shown once (sign-up, recovery, switch). */
function recoveryCodeOnce(continueLabel: string): Html {
  return html`<section class="card" id="recovery" hidden>
  <h2>Your recovery code</h2>
  <div class="key-box"><code class="key" id="recovery-code" data-testid="recovery-code"></code></div>
  <div class="notice warn" role="note"><p><strong>Write this code down now: it is shown only once.</strong> With it you can get back in when you forget your password or lose every device. We keep only a hash of something derived from it, so we cannot show it again.</p></div>
  <label class="checkbox"><input type="checkbox" id="recovery-saved"> I have stored my recovery code somewhere safe, away from this device.</label>
  <p class="actions"><a class="button" id="recovery-continue" href="/e2e/app" aria-disabled="true">${continueLabel}</a></p>
</section>`;
}

/** A card with a heading and one form whose fields only the bundle enables. */
function formCard(headingId: string, heading: string, formId: string, fields: Html, submit: string): Html {
  return html`<section class="card" aria-labelledby="${headingId}">
  <h2 id="${headingId}">${heading}</h2>
  <form id="${formId}">
    <fieldset disabled data-needs-script>
    ${fields}
    <div class="actions"><button type="submit">${submit}</button></div>
    </fieldset>
  </form>
</section>`;
}

function shell(ctx: PageContext, page: string, title: string, signedIn: boolean, body: Html) {
  return layout(ctx, { title, nav: e2eNav(ctx, signedIn), body: html`<div id="e2e" data-e2e-page="${page}">${noScript}${body}</div>` });
}

export function e2eSignupView(ctx: PageContext) {
  return shell(ctx, 'signup', 'Create an end-to-end account', false, html`<section class="card narrow" id="signup">
  <h1>Create an end-to-end account</h1>
  <p class="muted">Your memories are encrypted and decrypted in this browser (and in the local MCP server on your computer) under a key made here. The server stores only ciphertext and never sees your password or your key.</p>
  <div class="notice warn" role="note" id="no-rescue"><p><strong>Before you create it: nobody can rescue this account.</strong> ${NO_RESCUE_WARNING}</p></div>
  <form id="signup-form">
    <fieldset disabled data-needs-script>
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required maxlength="320">
    ${passwordFields('new-password')}
    <label class="checkbox"><input type="checkbox" id="understood" required> I understand: if I lose both my password and my recovery code, my memories are gone.</label>
    <div class="actions"><button type="submit">Create account</button></div>
    </fieldset>
  </form>
  <p class="small muted">Already have one? <a href="/e2e/login">Log in</a>. Prefer an API key the server derives your key from? <a href="/signup">Create a server-key account</a>.</p>
</section>
${recoveryCodeOnce('I have stored it: open my memories')}`);
}

export function e2eLoginView(ctx: PageContext) {
  return shell(ctx, 'login', 'Log in (end-to-end)', false, html`<section class="card narrow">
  <h1>Log in to your end-to-end account</h1>
  <p class="muted">Every browser you log in to becomes a device that can read your memories; log out of shared computers.</p>
  <form id="login-form">
    <fieldset disabled data-needs-script>
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required maxlength="320">
    ${passwordFields('current-password')}
    <div class="actions"><button type="submit">Log in</button></div>
    </fieldset>
  </form>
  <p class="small muted">Forgot your password, or lost every device? <a href="/e2e/recover">Recover with your recovery code</a>. New here? <a href="/e2e/signup">Create an end-to-end account</a>.</p>
</section>`);
}

export function e2eRecoverView(ctx: PageContext) {
  return shell(ctx, 'recover', 'Recover your account', false, html`<section class="card narrow" id="recover">
  <h1>Recover with your recovery code</h1>
  <p class="muted">Your recovery code opens your key in this browser; you then choose a new password and get a new recovery code (the old one stops working). Every other device is logged out.</p>
  <form id="recover-form">
    <fieldset disabled data-needs-script>
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required maxlength="320">
    <label for="code">Recovery code <span class="hint">32 characters, with or without dashes.</span></label>
    <input id="code" name="code" type="text" autocomplete="off" spellcheck="false" required maxlength="64">
    ${passwordFields('new-password', 'New password')}
    <div class="actions"><button type="submit">Recover my account</button></div>
    </fieldset>
  </form>
</section>
${recoveryCodeOnce('I have stored the new code: open my memories')}`);
}

export function e2eAppView(ctx: PageContext) {
  return shell(ctx, 'app', 'Memories (end-to-end)', true, html`<h1>Memories</h1>
<p class="muted" id="sync-status" role="status">Opening your memories in this browser…</p>
<form class="card" id="search-form" role="search">
  <fieldset disabled data-needs-script>
  <div class="toolbar">
    <div><label for="q">Search</label><input id="q" name="q" type="search" maxlength="500"></div>
    <button type="submit" class="secondary">Search</button>
    <button type="button" class="link" id="search-clear" hidden>Clear</button>
  </div>
  </fieldset>
</form>
${formCard('add-memory', 'Add a memory', 'memory-form', html`<label for="content">Memory</label>
    <textarea id="content" name="content" required maxlength="${LIMITS.contentChars}"></textarea>
    <label for="tags">Tags <span class="hint">Separated by commas, up to ${LIMITS.tags}.</span></label>
    <input id="tags" name="tags" type="text" autocomplete="off" maxlength="${LIMITS.tags * (LIMITS.tagChars + 2)}">`, 'Save memory')}
<h2 id="results">Newest first</h2>
<ul class="list-plain" id="memories" aria-labelledby="results"></ul>
<p class="actions"><button type="button" class="secondary" id="show-more" hidden>Show more</button></p>
<section class="card" aria-labelledby="transfer">
  <h2 id="transfer">Import &amp; export</h2>
  <p>The export is made in this browser: a JSON file of every memory and the knowledge graph, in plaintext, in the same format as a server-key account's JSON export. Keep it somewhere safe.</p>
  <form id="import-form">
    <fieldset disabled data-needs-script>
    <div class="actions"><button type="button" class="secondary" id="export">Download export</button></div>
    <label for="import-file">Import a file <span class="hint">An Anamnesis JSON export, or the reference memory server's memory.jsonl.</span></label>
    <input id="import-file" name="file" type="file" accept=".json,.jsonl,application/json">
    <div class="actions"><button type="submit">Import</button></div>
    </fieldset>
  </form>
</section>
<section class="card danger-zone" aria-labelledby="delete-account">
  <h2 id="delete-account">Delete your account</h2>
  <p>Deletes your account and every memory on the server, and this browser's copy, at once. Other browsers logged in to it erase their copy when they next reach the server. This cannot be undone: download an export first if you want a copy.</p>
  <form id="delete-account-form">
    <fieldset disabled data-needs-script>
    <label for="delete-confirm">Type <strong>delete</strong> to confirm</label>
    <input id="delete-confirm" name="confirm" type="text" autocomplete="off" required maxlength="20">
    <div class="actions"><button type="submit" class="danger">Delete my account</button></div>
    </fieldset>
  </form>
</section>`);
}

export function e2eGraphView(ctx: PageContext) {
  const nameInput = (id: string, label: string, hint = '') => html`<label for="${id}">${label}${hint ? html` <span class="hint">${hint}</span>` : ''}</label>
    <input id="${id}" name="${id}" type="text" autocomplete="off" required maxlength="${LIMITS.nameChars}" list="entity-names">`;
  return shell(ctx, 'graph', 'Knowledge graph (end-to-end)', true, html`<h1>Knowledge graph</h1>
<p class="muted" id="sync-status" role="status">Opening your knowledge graph in this browser…</p>
<p class="muted">Entities, their observations and the relations between them, as your MCP clients keep them with <code>create_entities</code>, <code>add_observations</code> and <code>create_relations</code>. Decrypted and searched in this browser; changes made offline are kept here, encrypted, and sent when the server can be reached.</p>
<form class="card" id="graph-search-form" role="search">
  <fieldset disabled data-needs-script>
  <div class="toolbar">
    <div><label for="graph-q">Search <span class="hint">Name, type or observation, as search_nodes matches.</span></label><input id="graph-q" name="q" type="search" maxlength="500"></div>
    <button type="submit" class="secondary">Search</button>
    <button type="button" class="link" id="graph-search-clear" hidden>Clear</button>
  </div>
  </fieldset>
</form>
<datalist id="entity-names"></datalist>
<div class="grid">
${formCard('add-entity', 'Add an entity', 'entity-form', html`${nameInput('entity-name', 'Name')}
    <label for="entity-type">Type <span class="hint">For example person, project, place.</span></label>
    <input id="entity-type" name="entity-type" type="text" autocomplete="off" required maxlength="${LIMITS.nameChars}">
    <label for="entity-observations">Observations <span class="hint">One per line; optional.</span></label>
    <textarea id="entity-observations" name="observations"></textarea>`, 'Add entity')}
${formCard('add-relation', 'Add a relation', 'relation-form', html`${nameInput('relation-from', 'From', 'An entity name.')}
    <label for="relation-type">Relation <span class="hint">In the active voice, for example works_at.</span></label>
    <input id="relation-type" name="relation-type" type="text" autocomplete="off" required maxlength="${LIMITS.nameChars}">
    ${nameInput('relation-to', 'To', 'An entity name.')}`, 'Add relation')}
</div>
<h2 id="graph-results">Entities</h2>
<ul class="list-plain" id="entities" aria-labelledby="graph-results"></ul>
<h2 id="relations-heading">Relations</h2>
<ul class="list-plain" id="relations" aria-labelledby="relations-heading"></ul>`);
}

export function e2eSwitchView(ctx: PageContext) {
  return layout(ctx, {
    title: 'Switch to end-to-end',
    body: html`<div id="e2e" data-e2e-page="switch" data-email="${ctx.email ?? ''}">${noScript}
<section class="card" id="switch">
  <h1>Switch this account to end-to-end encryption</h1>
  <p>Today the server derives your data key from your API key while it serves a request. After the switch your key is made in this browser and the server stores only what it cannot read.</p>
  <ol>
    <li>This browser reads every memory and the knowledge graph through your unlocked session, makes a new random key, and re-encrypts every record under it.</li>
    <li>The server then stores the new records and deletes the old ones, your API key, every session and every connected app's access, in one step.</li>
    <li>You use your memories from this website's end-to-end pages and from the local MCP server (<code>anamnesis-local</code>). Remote connectors (claude.ai, Claude Desktop's custom connector) and your API key stop working.</li>
  </ol>
  <div class="notice warn" role="note"><p><strong>Old backups stay readable by the old key.</strong> An encrypted export you downloaded before the switch is still decrypted by your old API key, wherever that export is. Delete old exports you no longer want readable.</p>
  <p>${NO_RESCUE_WARNING}</p></div>
  <form id="switch-form">
    <fieldset disabled data-needs-script>
    ${passwordFields('new-password', 'Password for end-to-end log-in')}
    <label class="checkbox"><input type="checkbox" id="understood" required> I understand: my API key stops working, and if I lose both this password and my recovery code, my memories are gone.</label>
    <div class="actions"><button type="submit" class="danger">Re-encrypt everything and switch</button> <a href="/app/account">Cancel</a></div>
    <div class="progress" hidden><progress aria-label="Re-encryption in progress"></progress><p data-status></p></div>
    </fieldset>
  </form>
</section>
${recoveryCodeOnce('I have stored it: open my memories')}</div>`,
  });
}

/** The security page's section on the browser client: what this server serves, beside the published release. */
export function releaseSection(served: ReleaseManifest, published: ReleaseManifest): Html {
  const matches = served.bundle.sha256 === published.bundle.sha256;
  return html`<div class="table-wrap"><table id="web-release">
<thead><tr><th scope="col"></th><th scope="col">File</th><th scope="col">SHA-256</th><th scope="col">Subresource Integrity</th></tr></thead>
<tbody>
<tr><th scope="row">Published for release ${published.release}</th><td><code>${published.bundle.file}</code></td><td><code data-testid="published-sha256">${published.bundle.sha256}</code></td><td><code>${published.bundle.integrity}</code></td></tr>
<tr><th scope="row">Served by this server</th><td><code>${served.bundle.file}</code></td><td><code data-testid="served-sha256">${served.bundle.sha256}</code></td><td><code>${served.bundle.integrity}</code></td></tr>
</tbody></table></div>
<p>${matches ? 'They match.' : html`<strong>They differ: this server runs code that is not the published release.</strong>`} The same data as JSON: <a href="/security/web-release.json">/security/web-release.json</a>.</p>`;
}
