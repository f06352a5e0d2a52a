// The OAuth consent page, its error page, and the list of connected apps.
import type { OAuthGrantListing } from '../../storage/store.ts';
import type { AuthorizationParams } from '../../oauth/authorize.ts';
import { html } from '../html.ts';
import { csrfField, layout, type Notice, type PageContext } from './layout.ts';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

/** What an OAuth grant can and cannot do, in the words of the consent and security pages. */
export const GRANT_CAN = 'read, search and change all your memories and your knowledge graph, through the MCP memory tools';
export const GRANT_CANNOT = 'use the website or the REST API, export your data, see or change your API key, or change or delete your account';

export function consentView(ctx: PageContext, consent: { clientName: string; redirectHost: string; params: AuthorizationParams }) {
  const p = consent.params;
  const hidden = (name: keyof AuthorizationParams) => (p[name] === undefined ? '' : html`<input type="hidden" name="${name}" value="${p[name]}">`);
  return layout(ctx, {
    title: 'Connect an application',
    body: html`<section class="card narrow">
  <h1>Connect <q>${consent.clientName}</q> to your memory?</h1>
  <p>After you approve, you will be sent to <strong>${consent.redirectHost}</strong>. Only approve if you just asked this application to connect to Anamnesis.</p>
  <p>It will be able to ${GRANT_CAN}.</p>
  <p>It will not be able to ${GRANT_CANNOT}.</p>
  <p class="small muted">You are logged in as ${ctx.email}. You can disconnect it at any time under <a href="/app/connections">Connected apps</a>; changing your API key or starting over disconnects every application.</p>
  <form method="post" action="/oauth/authorize">
    ${csrfField(ctx)}
    ${(['client_id', 'redirect_uri', 'response_type', 'code_challenge', 'code_challenge_method', 'scope', 'state', 'resource'] as const).map(hidden)}
    <div class="actions">
      <button type="submit" name="decision" value="approve">Approve</button>
      <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
    </div>
  </form>
</section>`,
  });
}

export function authorizationErrorView(ctx: PageContext, message: string) {
  return layout(ctx, {
    title: 'This connection request cannot be used',
    body: html`<section class="card narrow">
  <h1>This connection request cannot be used</h1>
  <p>${message}</p>
  <p class="muted">Nothing was connected. Go back to the application and try connecting again.</p>
</section>`,
  });
}

export function connectionsView(ctx: PageContext, grants: OAuthGrantListing[], redirectHost: (uri: string) => string, notice?: Notice) {
  return layout(ctx, {
    title: 'Connected apps',
    notice,
    body: html`<h1>Connected apps</h1>
<p class="muted">Applications you connected with “Add custom connector” or another OAuth sign-in. Each can ${GRANT_CAN}; none can ${GRANT_CANNOT}. Disconnecting one ends its access at once.</p>
${grants.length === 0 ? html`<p>No application is connected.</p>` : html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Application</th><th scope="col">Sends you back to</th><th scope="col">Connected</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
<tbody>
${grants.map((g) => html`<tr>
  <td>${g.clientName}</td>
  <td>${g.redirectUris.map(redirectHost).join(', ')}</td>
  <td>${day(g.createdAt)}</td>
  <td>${day(g.lastUsedAt)}</td>
  <td><form method="post" action="/app/connections/${g.id}/disconnect">${csrfField(ctx)}<button type="submit" class="secondary" aria-label="Disconnect ${g.clientName}">Disconnect</button></form></td>
</tr>`)}
</tbody>
</table></div>`}`,
  });
}
