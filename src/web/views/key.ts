// API-key rotation in two steps: the new key is shown first (the old one
// still works); the switch happens when the user pastes it back, which
// proves it was saved. Re-encryption of every record is one transaction.
import { html } from '../html.ts';
import { apiKeyOnce } from './api-key.ts';
import { csrfField, layout, type Notice, type PageContext } from './layout.ts';

export function keyView(ctx: PageContext, notice?: Notice) {
  return layout(ctx, {
    title: 'API key',
    notice,
    body: html`<h1>API key</h1>
<section class="card">
  <h2>Rotate your key</h2>
  <p>Rotate if your key may have leaked. You get a new key; your memories are re-encrypted under it and the old key stops working. Nothing changes until you confirm.</p>
  <form method="post" action="/app/key/rotate">
    ${csrfField(ctx)}
    <div class="actions"><button type="submit">Issue a new key</button></div>
  </form>
</section>
<p class="small muted">Lost your key instead? See <a href="/app/account#start-over">start over</a>.</p>`,
  });
}

export function confirmRotationView(ctx: PageContext, page: { apiKey?: string; records: number; error?: string }) {
  return layout(ctx, {
    title: 'Confirm the new key',
    notice: page.error ? { kind: 'error', text: page.error } : undefined,
    body: html`<section class="card">
  <h1>Step 2 of 2: switch to the new key</h1>
  ${page.apiKey
    ? html`<p>Here is your new key. Your old key still works until you confirm below.</p>${apiKeyOnce(page.apiKey, 'After you confirm, it will be the only way to decrypt your memory, and the old key will open nothing.')}`
    : html`<p>Paste the new key you were shown. Your old key still works until you confirm.</p>`}
  <form method="post" action="/app/key/confirm" data-long-operation="Re-encrypting ${page.records.toLocaleString('en')} records">
    ${csrfField(ctx)}
    <label for="new_key">Paste the new key to confirm you saved it</label>
    <input id="new_key" name="new_key" type="password" autocomplete="off" spellcheck="false" required maxlength="200">
    <p>Then update your MCP clients (Claude Code, Claude Desktop, Cursor) to use the new key: the old one stops working the moment you confirm.</p>
    <div class="actions"><button type="submit">Re-encrypt my memories and switch keys</button> <a href="/app/key">Cancel (keep the old key)</a></div>
    <div class="progress" hidden><progress aria-label="Re-encryption in progress"></progress><p data-status></p></div>
  </form>
</section>`,
  });
}

export function rotatedView(ctx: PageContext, records: number) {
  return layout(ctx, {
    title: 'Key rotated',
    notice: { kind: 'ok', text: html`<strong>Your key is rotated.</strong> ${records.toLocaleString('en')} records were re-encrypted under the new key. The old key now opens nothing.` },
    body: html`<section class="card">
  <h1>Key rotated</h1>
  <p>Update every MCP client that used the old key (Claude Code, Claude Desktop, Cursor); other browsers that were unlocked with it are now locked and need the new key.</p>
  <p class="actions"><a class="button" href="/app">Back to my memories</a></p>
</section>`,
  });
}
