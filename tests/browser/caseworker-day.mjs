// A caseworker's day on the page, in headless Debian Chromium against a
// running `kvp-payroll sandbox` (every protection on): the caseworker's
// token is sent as `Authorization: Bearer`, as the municipality's OpenID
// Connect proxy sends it. Opens the worklist, a participant, sees the
// self-certification quota exceeded, warns about and approves the deduction
// of the day, and sees the month's deduction line and its explanation.
// Figures on the page are checked against the REST API; every page is
// checked by axe-core (WCAG 2.1 A and AA: no serious or critical violation)
// and kept as a screenshot.
//
//   node caseworker-day.mjs SANDBOX_DIR SCREENSHOT_DIR
//
// Shares no code with the service: it reads what the sandbox wrote
// (sandbox.json, tokens/) and the contract (the pages, the REST API).

import { readFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [sandboxDir, screenshotDir] = process.argv.slice(2);
if (!sandboxDir || !screenshotDir) {
  console.error('usage: node caseworker-day.mjs SANDBOX_DIR SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(screenshotDir, { recursive: true });

const manifest = JSON.parse(readFileSync(join(sandboxDir, 'sandbox.json'), 'utf8'));
const token = readFileSync(join(sandboxDir, manifest.tokens.caseworker), 'utf8').trim();
const base = manifest.http_url;
const municipality = manifest.municipality_id;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const executablePath =
  process.env.KVP_CHROMIUM || execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();

let failures = 0;
function check(condition, what) {
  if (condition) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}`);
  }
}
function equal(actual, expected, what) {
  check(actual === expected, `${what}: page ${JSON.stringify(actual)}, API ${JSON.stringify(expected)}`);
}

async function api(path) {
  const response = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

const asText = (value) => (typeof value === 'string' ? value : JSON.stringify(value));

async function audit(page, name) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.violations) {
    console.log(`     axe ${name}: ${v.impact} ${v.id} (${v.nodes.length}): ${v.help}`);
  }
  check(serious.length === 0, `${name}: no serious accessibility violation (${result.passes.length} rules pass)`);
}

const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext({
    extraHTTPHeaders: { authorization: `Bearer ${token}` },
    locale: 'nb-NO',
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  const blocked = [];
  page.on('console', (message) => {
    if (message.type() === 'error') blocked.push(`${message.text()} (${message.location().url})`);
  });

  // The worklist: the start page leads to the caseworker's municipality.
  const start = await page.goto(`${base}/ui`);
  check(start.ok(), 'the start page answers');
  equal(new URL(page.url()).pathname, `/ui/municipalities/${municipality}/worklist`, 'the start page leads to');
  const csp = start.headers()['content-security-policy'] ?? '';
  check(csp.includes("default-src 'none'") && !csp.includes('unsafe'), `a strict Content-Security-Policy: ${csp}`);
  await audit(page, 'worklist');
  const worklist = await api(`/v1/municipalities/${municipality}/worklist`);
  const kinds = {};
  for (const item of worklist.items) kinds[item.kind] = (kinds[item.kind] ?? 0) + 1;
  const shownCounts = await page.$$eval('table.counts tbody tr', (rows) =>
    rows.map((row) => Number(row.querySelector('[data-count]').textContent)),
  );
  equal(shownCounts.reduce((a, b) => a + b, 0), worklist.items.length, 'work items counted');
  equal(await page.locator('table.items tbody tr').count(), worklist.items.length, 'work items listed');
  const awaiting = worklist.items.find((item) => item.kind === 'absence_awaiting_warning');
  check(awaiting !== undefined, 'unexcused hours await a warning on the worklist');

  // The participant: the self-certification quota exceeded, figures as the API's.
  await page
    .locator(`table.items tr[data-kind="absence_awaiting_warning"] a[href="/ui/participants/${awaiting.participant_id}"]`)
    .first()
    .click();
  await page.waitForURL(`**/ui/participants/${awaiting.participant_id}`);
  const overview = await api(`/v1/participants/${awaiting.participant_id}/absence-overview`);
  const figure = (name) => page.locator(`[data-figure="${name}"]`).innerText();
  equal(await figure('self_cert_occurrences_left'), asText(overview.self_cert_occurrences_left), 'self-certification occurrences left');
  equal(await figure('days_used'), asText(overview.self_certification.days_used), 'self-certified days used');
  equal(await figure('leave_hours_left'), asText(overview.leave_hours_left), 'leave hours left');
  equal(await figure('child_sick_days_left'), asText(overview.child_sick_days_left), "child's-sickness days left");
  const exceeded = overview.self_certification.entries.find((e) => e.flag === 'SELF_CERT_QUOTA_EXCEEDED');
  check(exceeded !== undefined, 'the API names the day beyond the quota');
  const alert = await page.locator('#absence-overview .alert').innerText();
  check(alert.includes('Egenmeldingskvoten er overskredet') && alert.includes(exceeded.date), `the page says so: ${alert}`);
  await audit(page, 'absence-overview');
  await page.locator('#absence-overview').screenshot({ path: join(screenshotDir, 'absence-overview-section.png') });

  // The month, from the participant's work: warn about the day, then decide.
  await page.locator(`ul.work li[data-kind="absence_awaiting_warning"] a`).first().click();
  await page.waitForURL(`**/months/${awaiting.month}`);
  await audit(page, 'month-awaiting-warning');
  const day = page.locator('article.pending', { hasText: exceeded.date });
  await day.getByLabel('Referanse').fill('BROWSER-VARSEL-1');
  await day.getByLabel('Kanal').selectOption('LETTER');
  await day.getByRole('button', { name: 'Registrer varsel' }).click();
  await page.waitForURL('**?done=warning');
  check((await page.locator('.notice').innerText()).includes('Varselet er registrert'), 'the warning is confirmed');
  const warned = page.locator('article.pending', { hasText: exceeded.date });
  await warned.getByLabel('Trekk (godkjent)').check();
  await warned.getByLabel('Referanse').fill('BROWSER-VEDTAK-1');
  await warned.getByLabel('Begrunnelse til deltakeren').fill('Fjerde dag med egenmelding i samme tilfelle.');
  await warned.getByRole('button', { name: 'Registrer vedtak' }).click();
  await page.waitForURL('**?done=decision');
  await audit(page, 'month-after-decision');

  // The deduction line and its explanation, as the API computes the month.
  const month = await api(`/v1/participants/${awaiting.participant_id}/months/${awaiting.month}`);
  const line = page.locator('tr[data-line="KVP_DEDUCTION_ABSENCE"]');
  equal(await line.locator('[data-amount]').innerText(), month.lines.KVP_DEDUCTION_ABSENCE, 'the deduction line');
  equal(await page.locator('[data-total]').innerText(), month.total, "the month's total");
  const explanation = month.explanation.find((l) => l.code === 'KVP_DEDUCTION_ABSENCE');
  const shown = await line.innerText();
  check(
    explanation.details.some((d) => d.startsWith(exceeded.date) && shown.includes(d)),
    `the explanation names the day: ${explanation.details.join(' | ')}`,
  );
  check(shown.includes(explanation.reference), `the legal reference: ${explanation.reference}`);
  const decisions = await api(`/v1/participants/${awaiting.participant_id}/sanction-decisions`);
  const ours = decisions.find((d) => d.reference === 'BROWSER-VEDTAK-1');
  check(ours?.decided_by.startsWith('caseworker:') && ours?.outcome === 'APPROVED', 'the decision is the caseworker\'s');

  // The decision as a fact, with its versions; the search; English.
  await page.goto(`${base}/ui/participants/${awaiting.participant_id}`);
  await page.locator('a', { hasText: 'BROWSER-VEDTAK-1' }).click();
  await page.waitForURL('**/ui/facts/sanction-decisions/**');
  await audit(page, 'fact-correction');
  await page.goto(`${base}/ui/municipalities/${municipality}/participants?q=${encodeURIComponent('nordmann')}`);
  await audit(page, 'find-participant');
  await page.goto(`${base}/ui/participants/${awaiting.participant_id}?lang=en`);
  check((await page.locator('html').getAttribute('lang')) === 'en', 'English on asking');
  await audit(page, 'absence-overview-en');
  check(blocked.length === 0, `nothing blocked or failing in the console: ${blocked.join(' | ')}`);
} finally {
  await browser.close();
}

if (failures > 0) {
  console.error(`${failures} check(s) failed; screenshots in ${screenshotDir}`);
  process.exit(1);
}
console.log(`every check passed; screenshots in ${screenshotDir}`);
