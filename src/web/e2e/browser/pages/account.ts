// The account pages: sign-up, log-in and recovery. Each sends nothing until
// the bundle runs (the fieldset is disabled in the markup), and the password
// and recovery code never leave this browser: they go into OPAQUE and HKDF
// here, through the client core.
import { announce, byId, onSubmit, newPassword, showRecoveryCode, UserFacingError } from '../dom.ts';
import { logIn, recoverAccount, signUp } from '../client.ts';

const STRETCHING = 'Stretching your password with Argon2id in this browser: this takes a few seconds…';

function field(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value;
}

export function signupPage(): void {
  const form = byId<HTMLFormElement>('signup-form');
  onSubmit(form, async () => {
    const password = newPassword(form);
    if (!byId<HTMLInputElement>('understood').checked) throw new UserFacingError('Tick the box to confirm you understand that nobody can rescue this account.');
    announce(STRETCHING);
    const created = await signUp(field(form, 'email').trim(), password);
    form.reset();
    announce('Your account is ready. Store your recovery code now.', 'ok');
    showRecoveryCode(created.recoveryCode, created.remembered, byId('signup'));
  });
}

export function loginPage(): void {
  const form = byId<HTMLFormElement>('login-form');
  onSubmit(form, async () => {
    announce(STRETCHING);
    await logIn(field(form, 'email').trim(), field(form, 'password'));
    form.reset();
    location.assign('/e2e/app');
  });
}

export function recoverPage(): void {
  const form = byId<HTMLFormElement>('recover-form');
  onSubmit(form, async () => {
    const password = newPassword(form);
    announce(STRETCHING);
    const recovered = await recoverAccount(field(form, 'email').trim(), field(form, 'code'), password);
    form.reset();
    announce('You are back in. Your old recovery code no longer works: store the new one now.', 'ok');
    showRecoveryCode(recovered.recoveryCode, recovered.remembered, byId('recover'));
  });
}
