// Progressive enhancement only: every form works without this file.
// Loaded from /assets (script-src 'self'); no inline script anywhere.
'use strict';

function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

// Copy buttons: hidden in the markup, shown only where the clipboard API exists.
for (const button of document.querySelectorAll('button[data-copy-target]')) {
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = 'Copied';
      announce('The key is copied to the clipboard.');
    } catch {
      announce('Copying failed: select the key and copy it by hand.');
    }
  });
}

// Import: read a chosen file into the paste box, so one form handles both.
for (const input of document.querySelectorAll('input[type=file][data-fill]')) {
  const target = document.getElementById(input.dataset.fill);
  input.closest('[hidden]')?.removeAttribute('hidden');
  input.addEventListener('change', async () => {
    const file = input.files && input.files[0];
    if (!file || !target) return;
    target.value = await file.text();
    const lines = target.value.split('\n').filter((line) => line.trim()).length;
    announce(`${file.name}: ${lines.toLocaleString()} lines read, ready to import.`);
  });
}

// Long operations: the form still submits normally (one transactional
// request); meanwhile show an honest indeterminate bar and the elapsed time.
for (const form of document.querySelectorAll('form[data-long-operation]')) {
  form.addEventListener('submit', () => {
    const panel = form.querySelector('.progress');
    if (!panel) return;
    let what = form.dataset.longOperation;
    const countFrom = form.dataset.countLinesOf && document.getElementById(form.dataset.countLinesOf);
    if (countFrom) {
      const lines = countFrom.value.split('\n').filter((line) => line.trim()).length;
      what = `${what} ${lines.toLocaleString()} records`;
    }
    const status = panel.querySelector('[data-status]');
    const started = Date.now();
    const tick = () => {
      status.textContent = `${what}… ${Math.round((Date.now() - started) / 1000)} s elapsed. Keep this page open.`;
    };
    tick();
    panel.hidden = false;
    const timer = setInterval(tick, 1000);
    // Disabled after this event, so the button's own value is still sent.
    setTimeout(() => { for (const b of form.querySelectorAll('button')) b.disabled = true; }, 0);
    window.addEventListener('pagehide', () => clearInterval(timer), { once: true });
  });
}

// Coming back through the history cache: show the form ready again, not mid-operation.
window.addEventListener('pageshow', (event) => {
  if (!event.persisted) return;
  for (const panel of document.querySelectorAll('form .progress')) panel.hidden = true;
  for (const b of document.querySelectorAll('form[data-long-operation] button')) b.disabled = false;
});
