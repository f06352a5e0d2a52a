// The pages' Content-Security-Policy: no inline script or style, no framing,
// forms only to this site. The one page whose form leads elsewhere (OAuth
// consent, whose answer redirects to the client) adds that one target.

export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** The same policy, with forms also allowed to lead to `target` (an origin, or a native app's `scheme:`). */
export function policyWithFormTarget(target: string): string {
  return CONTENT_SECURITY_POLICY.replace("form-action 'self'", `form-action 'self' ${target}`);
}

/**
 * The browser client's pages (end-to-end mode): the same policy, plus
 * 'wasm-unsafe-eval' so the OPAQUE log-in (WebAssembly) can be compiled. It
 * allows compiling WebAssembly only; JavaScript eval stays forbidden.
 */
export const E2E_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'");
