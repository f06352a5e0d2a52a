// Small DOM helpers for the browser client. Text always goes in through
// textContent, never as markup, so nothing decrypted can become HTML.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`this page has no #${id}`);
  return found as T;
}

/** The page's one live region: what happened, for everyone (screen readers included). */
export function announce(text: string, kind: 'ok' | 'error' | 'warn' | '' = ''): void {
  const live = document.getElementById('live');
  if (!live) return;
  live.className = `notice ${kind}`;
  live.textContent = text;
}

/** What a failure says to the user: our own messages as they are, anything else in general words. */
export function describe(error: unknown): string {
  if (error instanceof UserFacingError) return error.message;
  if (error instanceof TypeError && /fetch|network/i.test(error.message)) return 'The server could not be reached. Check your connection and try again.';
  return 'Something went wrong. Nothing was changed; please try again.';
}

/** An error whose message is written for the user (never containing anything they typed). */
export class UserFacingError extends Error {}

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string; attrs?: Record<string, string> } = {}, children: Node[] = []): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.className) el.className = props.className;
  if (props.text !== undefined) el.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/** Forms are sent only through this code: their fieldsets stay disabled until it runs. */
export function enableForms(): void {
  for (const fieldset of document.querySelectorAll<HTMLFieldSetElement>('fieldset[data-needs-script]')) fieldset.disabled = false;
}

/** Runs a form's work with the form disabled, announcing failures; `submit` never reloads the page. */
export function onSubmit(form: HTMLFormElement, work: () => Promise<void>): void {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fieldset = form.querySelector('fieldset');
    if (fieldset) fieldset.disabled = true;
    try {
      await work();
    } catch (error) {
      announce(describe(error), 'error');
    } finally {
      if (fieldset) fieldset.disabled = false;
    }
  });
}

/** Reads a new password and its repetition, refusing a mismatch before anything is sent. */
export function newPassword(form: HTMLFormElement): string {
  const password = (form.elements.namedItem('password') as HTMLInputElement).value;
  const again = (form.elements.namedItem('password_again') as HTMLInputElement).value;
  if (password !== again) throw new UserFacingError('The two passwords differ. Type the same password twice.');
  return password;
}

/**
 * Shows a new recovery code once, in place of `replaced`, and lets the user go
 * on only after saying it is stored. `remembered` false: this browser could
 * not keep the account open, so going on means logging in.
 */
export function showRecoveryCode(code: string, remembered: boolean, replaced: HTMLElement): void {
  replaced.hidden = true;
  if (!remembered) announce('Your account is ready, but this browser would not let us keep you logged in (its storage is blocked). Store your recovery code, then log in.', 'warn');
  const section = byId('recovery');
  byId('recovery-code').textContent = code;
  section.hidden = false;
  const saved = byId<HTMLInputElement>('recovery-saved');
  const next = byId<HTMLAnchorElement>('recovery-continue');
  if (!remembered) next.href = '/e2e/login';
  next.addEventListener('click', (event) => {
    if (saved.checked) return;
    event.preventDefault();
    announce('First store your recovery code, then tick the box.', 'warn');
    saved.focus();
  });
  saved.addEventListener('change', () => next.setAttribute('aria-disabled', String(!saved.checked)));
  section.querySelector('h2')?.setAttribute('tabindex', '-1');
  (section.querySelector('h2') as HTMLElement | null)?.focus();
}

/**
 * A button that acts on a second click, with no dialog: the first click asks
 * ("Confirm …"), the second runs `action`, announcing a failure.
 */
export function confirmingButton(label: string, describedBy: string, action: () => Promise<void>): HTMLButtonElement {
  const button = element('button', { className: 'link', text: label, attrs: { type: 'button', 'aria-describedby': describedBy } });
  button.addEventListener('click', async () => {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true';
      button.textContent = `Confirm ${label.toLowerCase()}`;
      button.classList.add('danger');
      return;
    }
    try {
      await action();
    } catch (error) {
      announce(describe(error), 'error');
    }
  });
  return button;
}
