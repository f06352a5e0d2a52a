// Account deletion and, for a lost key, starting over. Both re-ask the password.
import { MAX_PASSWORD_CHARS } from '../../accounts/password-policy.ts';
import { html } from '../html.ts';
import { startOverForm } from './auth.ts';
import { csrfField, layout, type Notice, type PageContext } from './layout.ts';

export function accountView(ctx: PageContext, notice?: Notice) {
  return layout(ctx, {
    title: 'Account',
    notice,
    body: html`<h1>Account</h1>
<p>Logged in as <strong>${ctx.email}</strong>.</p>
<section class="card" id="end-to-end">
  <h2>Switch to end-to-end encryption</h2>
  <p>Move this account to a key made in your browser, which the server never sees. Your API key and remote connectors stop working; you then use the browser client and the local MCP server.</p>
  <p class="actions"><a class="button secondary" href="/app/e2e-switch">Read about the switch</a></p>
</section>
<section class="card" id="start-over">
  <h2>Lost your API key? Start over</h2>
  <p>Without the key your memories cannot be decrypted by anyone. Starting over deletes them all and gives you a new key, so you can keep using your account.</p>
  ${startOverForm(ctx)}
</section>
<section class="card danger-zone" id="delete">
  <h2>Delete your account</h2>
  <p>Deletes your account, every memory, the knowledge graph and every session, at once. This cannot be undone: download an export first if you want a copy.</p>
  <form method="post" action="/app/account/delete">
    ${csrfField(ctx)}
    <label for="delete-password">Password</label>
    <input id="delete-password" name="password" type="password" autocomplete="current-password" required maxlength="${MAX_PASSWORD_CHARS}">
    <div class="actions"><button type="submit" class="danger">Delete my account</button></div>
  </form>
</section>`,
  });
}

export function accountDeletedView(ctx: PageContext) {
  return layout(ctx, {
    title: 'Account deleted',
    notice: { kind: 'ok', text: 'Your account and everything in it are deleted.' },
    body: html`<section class="card narrow"><h1>Account deleted</h1><p>Your account, memories, knowledge graph and sessions are gone. Thank you for trying Anamnesis.</p><p class="actions"><a class="button secondary" href="/">Home</a></p></section>`,
  });
}
