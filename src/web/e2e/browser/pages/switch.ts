// Switching a server-key account to end-to-end: while the dashboard session
// is unlocked, this browser reads every record through the JSON export,
// makes a new key, re-encrypts everything under it and hands the server only
// the ciphertext, in one conversion the server applies all or nothing.
import { announce, byId, newPassword, onSubmit, showRecoveryCode, UserFacingError } from '../dom.ts';
import { switchToEndToEnd } from '../client.ts';
import type { JsonExport } from '../transfer.ts';

export function switchPage(): void {
  const form = byId<HTMLFormElement>('switch-form');
  const progress = form.querySelector<HTMLElement>('.progress');
  const status = form.querySelector<HTMLElement>('[data-status]');
  const say = (text: string) => {
    if (status) status.textContent = text;
    announce(text);
  };
  onSubmit(form, async () => {
    const password = newPassword(form);
    if (!byId<HTMLInputElement>('understood').checked) throw new UserFacingError('Tick the box to confirm you understand what the switch changes.');
    if (progress) progress.hidden = false;
    try {
      say('Reading your memories through your unlocked session…');
      const response = await fetch('/api/v1/export?format=json', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!response.ok) throw new UserFacingError('Your memories could not be read: this session may be locked or logged out. Unlock it and try again; nothing was changed.');
      const exported = (await response.json()) as JsonExport;
      if (exported.unreadable.length > 0) throw new UserFacingError(`${exported.unreadable.length} record(s) cannot be decrypted with your current key, so they cannot be carried over. Nothing was changed.`);
      const total = exported.memories.length + exported.entities.length + exported.relations.length;
      say(`Re-encrypting ${total.toLocaleString()} records under a new key made in this browser…`);
      const switched = await switchToEndToEnd(password, exported, byId('e2e').dataset.email ?? '');
      form.reset();
      announce('Your account is end-to-end now. Store your recovery code.', 'ok');
      showRecoveryCode(switched.recoveryCode, switched.remembered, byId('switch'));
    } finally {
      if (progress) progress.hidden = true;
    }
  });
}
