// Sign-up, log-in, unlock and start-over forms.
import { LOST_KEY_CONFIRMATION } from '../../accounts/accounts.ts';
import { MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS } from '../../accounts/password-policy.ts';
import { html } from '../html.ts';
import { apiKeyOnce, ONLY_WAY_TO_DECRYPT } from './api-key.ts';
import { csrfField, layout, type PageContext } from './layout.ts';

const errorNotice = (error: string | undefined) => (error ? { kind: 'error' as const, text: error } : undefined);

export function signupView(ctx: PageContext, form: { email?: string; error?: string } = {}) {
  return layout(ctx, {
    title: 'Create an account',
    notice: errorNotice(form.error),
    body: html`<section class="card narrow">
  <h1>Create an account</h1>
  <p class="muted">You will get an API key that encrypts your memory. Your password only logs you in to this website.</p>
  <form method="post" action="/signup">
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="email" required maxlength="320" value="${form.email ?? ''}">
    <label for="password">Password <span class="hint">At least ${MIN_PASSWORD_CHARS} characters; a passphrase of several words is best.</span></label>
    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_CHARS}" maxlength="${MAX_PASSWORD_CHARS}">
    <div class="actions"><button type="submit">Create account</button></div>
  </form>
  <p class="small muted">Already have an account? <a href="/login">Log in</a>.</p>
  <p class="small muted">Want a key the server never sees? <a href="/e2e/signup">Create an end-to-end account</a> instead.</p>
</section>`,
  });
}

export function signupDoneView(ctx: PageContext, apiKey: string) {
  return layout(ctx, {
    title: 'Your API key',
    body: html`<section class="card">
  <h1>Your account is ready. Here is your API key.</h1>
  ${apiKeyOnce(apiKey, ONLY_WAY_TO_DECRYPT)}
  <p>Use it to <a href="/#connect">connect Claude</a>, and to unlock this website when you log in from another browser. Store it in a password manager.</p>
  <p class="actions"><a class="button" href="/app">I have saved my key: open my memories</a></p>
</section>`,
  });
}

/** A form's action, carrying the return path on to the next step. */
export const withNext = (path: string, next: string | undefined) => (next ? `${path}?next=${encodeURIComponent(next)}` : path);

export function loginView(ctx: PageContext, form: { email?: string; error?: string; notice?: string; next?: string | undefined } = {}) {
  return layout(ctx, {
    title: 'Log in',
    notice: form.error ? errorNotice(form.error) : form.notice ? { kind: 'ok', text: form.notice } : undefined,
    body: html`<section class="card narrow">
  <h1>Log in</h1>
  <form method="post" action="${withNext('/login', form.next)}">
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="${form.email ?? ''}">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="${MAX_PASSWORD_CHARS}">
    <div class="actions"><button type="submit">Log in</button></div>
  </form>
  <p class="small muted">New here? <a href="/signup">Create an account</a>. End-to-end account? <a href="/e2e/login">Log in here</a>.</p>
</section>`,
  });
}

export function unlockView(ctx: PageContext, form: { error?: string; next?: string | undefined } = {}) {
  return layout(ctx, {
    title: 'Unlock',
    notice: errorNotice(form.error),
    body: html`<section class="card narrow">
  <h1>Unlock your memory</h1>
  <p>You are logged in as <strong>${ctx.email}</strong>. Your password does not decrypt anything: enter your API key to read your memories in this browser.</p>
  <form method="post" action="${withNext('/unlock', form.next)}">
    ${csrfField(ctx)}
    <label for="api_key">API key <span class="hint">Starts with anm_</span></label>
    <input id="api_key" name="api_key" type="password" autocomplete="off" spellcheck="false" required maxlength="200">
    <div class="actions"><button type="submit">Unlock</button></div>
  </form>
  <p class="small muted">Lost your key? Your memories cannot be decrypted without it, but you can <a href="/app/account#start-over">start over with a new key</a>.</p>
</section>`,
  });
}

export function startOverForm(ctx: PageContext) {
  return html`<form method="post" action="/app/account/start-over">
    ${csrfField(ctx)}
    <label for="start-over-password">Password</label>
    <input id="start-over-password" name="password" type="password" autocomplete="current-password" required maxlength="${MAX_PASSWORD_CHARS}">
    <label for="start-over-confirm">Type <strong>${LOST_KEY_CONFIRMATION}</strong> to confirm</label>
    <input id="start-over-confirm" name="confirm" type="text" autocomplete="off" required maxlength="100">
    <div class="actions"><button type="submit" class="danger">Delete my memories and issue a new key</button></div>
  </form>`;
}

export function newKeyView(ctx: PageContext, page: { title: string; apiKey: string; intro: string }) {
  return layout(ctx, {
    title: page.title,
    body: html`<section class="card">
  <h1>${page.title}</h1>
  <p>${page.intro}</p>
  ${apiKeyOnce(page.apiKey, ONLY_WAY_TO_DECRYPT)}
  <p><strong>Update your MCP clients</strong> (Claude Code, Claude Desktop, Cursor) to use this key: the old key no longer works.</p>
  <p class="actions"><a class="button" href="/app">I have saved my key: open my memories</a></p>
</section>`,
  });
}
