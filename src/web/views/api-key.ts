// An API key shown once (sign-up, rotation, start-over), with a copy button
// that app.js reveals where the clipboard API exists.
import { html, type Interpolation } from '../html.ts';

export function apiKeyOnce(apiKey: string, warning: Interpolation) {
  return html`<div class="key-box">
  <code class="key" id="api-key" data-testid="api-key">${apiKey}</code>
  <button type="button" class="secondary" data-copy-target="api-key" hidden>Copy</button>
</div>
<div class="notice warn" role="note"><p><strong>Save this key now: it is shown only once.</strong> ${warning}</p></div>`;
}

export const ONLY_WAY_TO_DECRYPT = 'It is the only way to decrypt your memory. We keep only a hash of it, so we cannot show it again or recover it, and without it your memories cannot be read by anyone, including you.';
