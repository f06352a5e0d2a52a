import { html } from '../html.ts';
import { layout, type PageContext } from './layout.ts';

const TITLES: Record<number, string> = {
  400: 'That request could not be used',
  401: 'Please log in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Not accepted',
  429: 'Too many attempts',
  503: 'Briefly unavailable',
};

/** An error page: the fixed message from the error mapping, never internals. */
export function errorView(ctx: PageContext, status: number, message: string) {
  const title = TITLES[status] ?? 'Something went wrong';
  return layout(ctx, {
    title,
    body: html`<section class="card narrow">
  <h1>${title}</h1>
  <p>${message}</p>
  ${status === 403 ? html`<p class="muted">If you came here from a form, go back, reload the page and try again.</p>` : ''}
  <p class="actions"><a class="button secondary" href="${ctx.email ? '/app' : '/'}">Go to ${ctx.email ? 'your memories' : 'the home page'}</a></p>
</section>`,
  });
}
