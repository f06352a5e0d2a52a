import type { SessionRow } from '../../storage/store.ts';
import { html } from '../html.ts';
import { csrfField, layout, type Notice, type PageContext } from './layout.ts';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

export function sessionsView(ctx: PageContext, sessions: SessionRow[], currentId: string, notice?: Notice) {
  return layout(ctx, {
    title: 'Sessions',
    notice,
    body: html`<h1>Sessions</h1>
<p class="muted">Browsers logged in to your account. Revoking one logs it out and deletes the copy of your key it held.</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Browser</th><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">State</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
<tbody>
${sessions.map((s) => html`<tr>
  <td>${s.label}${s.id === currentId ? html` <strong>(this browser)</strong>` : ''}</td>
  <td>${day(s.createdAt)}</td>
  <td>${day(s.lastSeenAt)}</td>
  <td>${s.wrappedKey ? 'Unlocked' : 'Locked'}</td>
  <td><form method="post" action="/app/sessions/${s.id}/revoke">${csrfField(ctx)}<button type="submit" class="secondary" aria-label="Revoke ${s.label} started ${day(s.createdAt)}${s.id === currentId ? ' (this browser)' : ''}">Revoke</button></form></td>
</tr>`)}
</tbody>
</table></div>`,
  });
}
