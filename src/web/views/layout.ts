// The page shell every view renders into: skip link, header navigation that
// matches the visitor's state (anonymous, locked, unlocked), one aria-live
// region for results, and the only two assets: CSS and one script (the
// progressive app.js, or the end-to-end client's bundle), loaded with
// Subresource Integrity.
import { html, type Html, type Interpolation } from '../html.ts';

export interface PageContext {
  /** The current path, to mark the navigation link of this page. */
  path: string;
  /** Signed-in user's email, null when anonymous. */
  email: string | null;
  unlocked: boolean;
  /** The session's CSRF token for forms; null when anonymous. */
  csrf: string | null;
  styles: string;
  script: string;
  /** Subresource Integrity of the script: the browser runs it only if its SHA-384 matches. */
  scriptIntegrity: string;
  icon: string;
}

export interface Notice {
  kind: 'ok' | 'error' | 'warn';
  text: Interpolation;
}

function navLink(ctx: PageContext, href: string, label: string): Html {
  const current = ctx.path === href || (href !== '/' && href !== '/app' && ctx.path.startsWith(href + '/'));
  return html`<a href="${href}" ${current ? html`aria-current="page"` : ''}>${label}</a>`;
}

export function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">`;
}

function navigation(ctx: PageContext): Html {
  const publicLinks = html`${navLink(ctx, '/', 'Home')}${navLink(ctx, '/security', 'Security')}`;
  if (!ctx.email) {
    return html`${publicLinks}<span class="spacer"></span>${navLink(ctx, '/login', 'Log in')}${navLink(ctx, '/signup', 'Sign up')}`;
  }
  const appLinks = ctx.unlocked
    ? html`${navLink(ctx, '/app', 'Memories')}${navLink(ctx, '/app/graph', 'Graph')}${navLink(ctx, '/app/data', 'Import & export')}${navLink(ctx, '/app/key', 'API key')}${navLink(ctx, '/app/sessions', 'Sessions')}${navLink(ctx, '/app/connections', 'Connected apps')}`
    : navLink(ctx, '/unlock', 'Unlock');
  return html`${appLinks}${navLink(ctx, '/app/account', 'Account')}<span class="spacer"></span>
    <form method="post" action="/logout">${csrfField(ctx)}<button type="submit" class="link">Log out</button></form>`;
}

export function layout(ctx: PageContext, page: { title: string; body: Html; notice?: Notice | undefined; nav?: Html }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · Anamnesis</title>
<link rel="icon" href="${ctx.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${ctx.styles}">
<script src="${ctx.script}" integrity="${ctx.scriptIntegrity}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
  <div class="inner">
    <a class="brand" href="${ctx.email && ctx.unlocked ? '/app' : '/'}"><span class="brand-mark" aria-hidden="true"></span>Anamnesis</a>
    <nav class="site-nav" aria-label="Main">${page.nav ?? navigation(ctx)}</nav>
  </div>
</header>
<main id="main" class="inner" tabindex="-1">
<div id="live" class="notice ${page.notice?.kind ?? ''}" role="status" aria-live="polite">${page.notice?.text}</div>
${page.body}
</main>
<footer class="site-footer"><div class="inner">Anamnesis: long-term memory for Claude that the server cannot read without your key. <a href="/">Home</a> · <a href="/security">Security</a></div></footer>
</body>
</html>`;
}
