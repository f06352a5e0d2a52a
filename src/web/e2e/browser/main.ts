// The browser client of end-to-end mode: one entry point, bundled by
// ../bundle.ts. Each page says which part it needs in <body data-e2e-page>.
console.log('e2e');
