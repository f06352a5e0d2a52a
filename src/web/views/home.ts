import { html } from '../html.ts';
import { layout, type PageContext } from './layout.ts';

/** `origin` is this site's own address (scheme and host), for the connection snippets. */
export function homeView(ctx: PageContext, origin: string) {
  const endpoint = `${origin}/mcp`;
  const desktop = JSON.stringify(
    { mcpServers: { anamnesis: { command: 'npx', args: ['-y', 'mcp-remote', endpoint, '--header', 'Authorization:${AUTH_HEADER}'], env: { AUTH_HEADER: 'Bearer anm_your_key' } } } },
    null,
    2,
  );
  const cursor = JSON.stringify({ mcpServers: { anamnesis: { url: endpoint, headers: { Authorization: 'Bearer anm_your_key' } } } }, null, 2);
  return layout(ctx, {
    title: 'Long-term memory for Claude',
    body: html`<section class="hero">
  <h1>Long-term memory for Claude that we cannot read.</h1>
  <p class="lead">Anamnesis remembers what you tell your AI tools, across conversations and apps. Every memory is encrypted with a key derived from your own API key, which we never store.</p>
  <p class="actions">${ctx.email ? html`<a class="button" href="/app">Open your memories</a>` : html`<a class="button" href="/signup">Create an account</a> <a class="button secondary" href="/login">Log in</a>`} <a href="/security">How the encryption works</a></p>
  ${ctx.email ? '' : html`<p class="small muted">Want a key the server never sees at all? <a href="/e2e/signup">Create an end-to-end account</a>: your memories are decrypted only in your browser and in the local MCP server. <a href="/e2e/login">Log in to one</a>.</p>`}
</section>

<section class="grid promises" aria-label="Promises">
  <div class="card"><h2>No master key</h2><p>Each account is encrypted under its own key. A copy of our whole database decrypts nothing.</p></div>
  <div class="card"><h2>Your key, never stored</h2><p>We keep only a SHA-256 hash of your API key. Your data key is derived per request and dropped with it.</p></div>
  <div class="card"><h2>One leak is one account</h2><p>A leaked key exposes only its own account. Rotate it and your memories move to the new key.</p></div>
  <div class="card"><h2>Yours to take away</h2><p>Export everything, encrypted or as plain JSON, and decrypt it yourself with standard Python tools.</p></div>
</section>

<h2 id="connect">Connect Claude</h2>
<p>Anamnesis speaks the Model Context Protocol at <code>${endpoint}</code>. Clients authenticate with your API key as <code>Authorization: Bearer anm_…</code>. Replace <code>anm_your_key</code> below with the key you got at sign-up.</p>
<div class="card">
  <h3>Claude Code</h3>
  <pre class="wrap"><code>claude mcp add --transport http anamnesis ${endpoint} --header "Authorization: Bearer anm_your_key"</code></pre>
</div>
<div class="card">
  <h3>Claude Desktop</h3>
  <p>Add this to <code>claude_desktop_config.json</code> (Settings → Developer → Edit Config) and restart Claude Desktop:</p>
  <pre><code>${desktop}</code></pre>
</div>
<div class="card">
  <h3>Cursor</h3>
  <p>Add this to <code>~/.cursor/mcp.json</code> (or the project's <code>.cursor/mcp.json</code>):</p>
  <pre><code>${cursor}</code></pre>
</div>`,
  });
}
