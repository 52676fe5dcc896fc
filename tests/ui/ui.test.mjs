// vigil's web UI in a real browser: Debian's chromium driven by playwright-core. Run by tests/e2e/test_ui.py,
// which starts vigil, seeds users, an image and hostile values, and passes them in the environment:
//   VIGIL_URL, VIGIL_HOST, ADMIN_USER, ADMIN_PASSWORD, VIEWER_USER, VIEWER_PASSWORD,
//   LAYOUT (an OCI layout skopeo pushes from during the live-tail test), XSS_AGENT (a user agent sent earlier),
//   BINARY (the vigil binary, to verify a downloaded receipt), SCREENSHOT_DIR (optional: screenshots go there).
// The tests run in order and share one browser; every page's console errors (CSP violations included) fail the run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const run = promisify(execFile);
const env = process.env;
const URL_ = env.VIGIL_URL;
const ADMIN = { user: env.ADMIN_USER, password: env.ADMIN_PASSWORD };
const VIEWER = { user: env.VIEWER_USER, password: env.VIEWER_PASSWORD };
const WAIT = 20_000;

let browser;
const problems = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

/** A new browser context (its own cookies) whose pages report console errors and script errors. */
async function context(viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
  ctx.on("page", watch);
  return ctx;
}

function watch(page) {
  page.on("console", (msg) => {
    // A page answered with an error status logs "Failed to load resource"; those pages are asserted on directly.
    if (msg.type() === "error" && !msg.text().includes("Failed to load resource")) {
      problems.push(`${page.url()}: console error: ${msg.text()}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`${page.url()}: ${err.message}`));
  page.on("dialog", (d) => { problems.push(`${page.url()}: a dialog opened: ${d.message()}`); d.dismiss(); });
}

async function signIn(page, who, next = "/ui/") {
  await page.goto(`${URL_}${next}`);
  assert.match(page.url(), /\/ui\/login\?next=/);
  // Keyboard only: the form is usable without a mouse.
  await page.focus("#username");
  await page.keyboard.type(who.user);
  await page.keyboard.press("Tab");
  await page.keyboard.type(who.password);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#who", { timeout: WAIT });
}

async function shot(page, name) {
  if (env.SCREENSHOT_DIR) await page.screenshot({ path: `${env.SCREENSHOT_DIR}/${name}.png`, fullPage: false });
}

let admin; // the admin's context, signed in
let adminPage;

test("browsers are sent from the root to sign in, and a wrong password is refused", async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto(`${URL_}/`);
  assert.match(page.url(), /\/ui\/login\?next=%2Fui%2F|\/ui\/login\?next=\/ui\//);
  await shot(page, "login");
  await page.fill("#username", ADMIN.user);
  await page.fill("#password", "not-the-password");
  await page.click("button[type=submit]");
  assert.equal(await page.textContent("#login-error"), "incorrect username or password");
  const cookies = await ctx.cookies();
  assert.ok(!cookies.some((c) => c.name === "vigil_session"), "no session for a wrong password");
  await ctx.close();
});

test("the admin signs in; the session cookie is HttpOnly and SameSite=Strict", async () => {
  admin = await context();
  adminPage = await admin.newPage();
  await signIn(adminPage, ADMIN);
  const session = (await admin.cookies()).find((c) => c.name === "vigil_session");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(session.path, "/ui");
  assert.equal(await adminPage.evaluate(() => document.cookie), "", "scripts cannot read the session");
});

test("forms without their CSRF token, or from another site, change nothing", async () => {
  // Sign-out without the token: refused, and the session still works.
  let resp = await admin.request.post(`${URL_}/ui/logout`, { form: { csrf: "forged" }, maxRedirects: 0 });
  assert.equal(resp.status(), 403);
  assert.match(await resp.text(), /security token is missing or stale/);
  resp = await admin.request.get(`${URL_}/ui/`, { maxRedirects: 0 });
  assert.equal(resp.status(), 200, "still signed in");
  // The right token from another origin: refused too.
  await adminPage.goto(`${URL_}/ui/`);
  const csrf = await adminPage.getAttribute("form.signout input[name=csrf]", "value");
  resp = await admin.request.post(`${URL_}/ui/logout`, {
    form: { csrf }, headers: { Origin: "https://evil.example" }, maxRedirects: 0,
  });
  assert.equal(resp.status(), 403);
  // A sign-in form posted without the sign-in token (login CSRF): refused before the password is checked.
  const fresh = await context();
  resp = await fresh.request.post(`${URL_}/ui/login`, {
    form: { username: ADMIN.user, password: ADMIN.password }, maxRedirects: 0,
  });
  assert.equal(resp.status(), 403);
  assert.ok(!(await fresh.cookies()).some((c) => c.name === "vigil_session"));
  await fresh.close();
});

test("repositories across formats, with search", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/`);
  const names = await page.$$eval("#repos tbody tr td:first-child", (tds) => tds.map((t) => t.textContent.trim()));
  assert.ok(names.includes("uiteam/app"), names.join(","));
  assert.ok(names.includes("uiteam/files"), names.join(","));
  assert.ok(names.includes(`${VIEWER.user}/mine`), names.join(","));
  const formats = await page.$$eval("#repos .fmt", (s) => s.map((x) => x.textContent));
  assert.ok(formats.includes("oci") && formats.includes("raw"), formats.join(","));
  await shot(page, "repositories");
  await page.fill("#q", "files");
  await page.press("#q", "Enter");
  await page.waitForURL(/q=files/);
  const filtered = await page.$$eval("#repos tbody tr td:first-child", (tds) => tds.map((t) => t.textContent.trim()));
  assert.ok(filtered.includes("uiteam/files") && filtered.every((n) => n.includes("files")), filtered.join(","));
  assert.ok(!filtered.includes("uiteam/app"));
  await page.goto(`${URL_}/ui/?q=nothing-matches-this`);
  assert.match(await page.textContent("#empty"), /No repository you can read matches/);
});

test("a repository's tags with digest, size, media type, pusher and last pull; the artifact and who pulled it", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/repo/uiteam/app`);
  const row = page.locator("#items tbody tr", { hasText: "v1" }).first();
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[0].trim(), "v1");
  assert.match(cells[1], /^sha256:[0-9a-f]{64}$/);
  assert.match(cells[2], /\d+(\.\d)? (B|KiB|MiB)/);
  assert.match(cells[3], /application\/vnd\.oci\.image\.manifest\.v1\+json/);
  assert.match(cells[4], new RegExp(`^${ADMIN.user}, `));
  assert.match(cells[5], /ago|just now/);
  assert.match(await row.locator("td").nth(2).getAttribute("title"), /^\d+ bytes$/, "exact size on hover");
  await shot(page, "repository");
  await row.locator("a").first().click();
  await page.waitForSelector("#document");
  const manifest = JSON.parse(await page.textContent("#document"));
  assert.equal(manifest.schemaVersion, 2);
  assert.ok((await page.textContent("#fields")).includes("v1"), "the tags naming it");
  const pulls = await page.$$eval("#pulls tbody tr", (rows) => rows.map((r) => r.textContent));
  assert.ok(pulls.some((p) => p.includes(ADMIN.user) && p.includes("127.0.0.1")), pulls.join("\n"));
  // A raw repository lists its files.
  await page.goto(`${URL_}/ui/repo/uiteam/files`);
  assert.ok((await page.textContent("#items")).includes("docs/readme.txt"));
});

/** The seqs of the event rows on the page. */
const seqs = (page) => page.$$eval("#event-rows tr", (rows) => rows.map((r) => Number(r.dataset.seq)));

test("usage logs: chart, table, filters, full events and paging that neither skips nor repeats", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/logs`);
  assert.equal(await page.textContent("#heading"), "Usage logs of the whole registry");
  assert.ok(await page.isVisible("#chart"), "the chart");
  assert.ok((await page.locator("#chart rect").count()) > 0, "bars in the chart");
  const from = await page.inputValue("#from");
  assert.match(from, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/, "the default range is filled in");
  await shot(page, "logs");
  const first = await seqs(page);
  assert.equal(first.length, 50, "a full page");
  assert.deepEqual([...first].sort((a, b) => b - a), first, "newest first");
  // Events keep arriving (each page view is one); the next page still starts right below the last row.
  await page.click("#older");
  await page.waitForURL(/cursor=/);
  const second = await seqs(page);
  assert.ok(second.length > 0);
  assert.ok(Math.max(...second) < Math.min(...first), "older rows only");
  const olderThanFirst = await admin.request.get(
    `${URL_}/ui/logs/export.ndjson?to=${encodeURIComponent(new Date(Date.now() + 60000).toISOString())}`);
  const all = (await olderThanFirst.text()).trim().split("\n").map((l) => JSON.parse(l).seq);
  const expected = all.filter((s) => s < Math.min(...first)).sort((a, b) => b - a).slice(0, second.length);
  assert.deepEqual(second, expected, "exactly the next events, none skipped");
  await page.click("#newer");
  await page.waitForURL(/newer=/);
  assert.deepEqual(await seqs(page), first, "back to the same first page");
  // Filter by kind through the form; the URL takes the API's names.
  await page.goto(`${URL_}/ui/logs`);
  await page.fill("#f-kind", "push_repo");
  await page.click("#filters button[type=submit]");
  await page.waitForURL(/kind=push_repo/);
  const kinds = await page.$$eval("#event-rows tr details summary", (s) => s.map((x) => x.textContent));
  assert.ok(kinds.length > 0 && kinds.every((k) => k.startsWith("push_repo")), kinds.join("\n"));
  // The full event on click.
  await page.click("#event-rows tr:first-child summary");
  const event = JSON.parse(await page.textContent("#event-rows tr:first-child pre"));
  assert.equal(event.kind, "push_repo");
  assert.ok(event.request.remote_addr && event.user.name);
  // Page views are audit events too, a repository's pages in that repository's log.
  await page.goto(`${URL_}/ui/logs?kind=ui_view&repository=uiteam/app`);
  const views = await page.$$eval("#event-rows tr td:nth-child(5)", (c) => c.map((x) => x.textContent));
  assert.ok(views.length > 0 && views.every((u) => u === ADMIN.user), views.join(","));
  // A bad date is a clear error, not a silent default.
  await page.goto(`${URL_}/ui/logs?from=yesterday`);
  assert.match(await page.textContent("#logs-error"), /not an RFC 3339 time/);
});

test("exports download the filtered events as NDJSON and CSV", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/logs?kind=push_repo`);
  const rows = (await seqs(page)).length;
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-ndjson")]);
  assert.equal(download.suggestedFilename(), "vigil-usage-logs.ndjson");
  const lines = (await readFile(await download.path(), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.length >= rows, `${lines.length} exported, ${rows} shown`);
  assert.ok(lines.every((e) => e.kind === "push_repo"));
  const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  const text = await readFile(await csv.path(), "utf8");
  assert.ok(text.startsWith("seq,ts,kind,action,operation,outcome,status,user,repository"));
  // Quay's export from the page's form: it reaches the API's checks, which refuse a callback outside
  // audit.export.callback_allowlist (empty on this server) with their reason.
  await page.click("#quay-export summary");
  await page.fill("#callback_url", "https://not-allowlisted.example/hook");
  const [answer] = await Promise.all([page.waitForNavigation(), page.click("#quay-export button[type=submit]")]);
  assert.equal(answer.status(), 400);
  assert.match(await page.textContent("#error"), /not-allowlisted\.example|allow/);
  const forged = await admin.request.post(`${URL_}/ui/logs/exportlogs`, {
    form: { level: "user", callback_url: "https://not-allowlisted.example/hook" }, maxRedirects: 0,
  });
  assert.equal(forged.status(), 403, "no CSRF token, no export");
});

test("the live tail shows an image pushed by skopeo during the test", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/logs?repository=uiteam/app`);
  await page.click("#live-toggle");
  await page.waitForFunction(() => document.getElementById("live-status").textContent.includes("waiting"));
  await run("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", `${ADMIN.user}:${ADMIN.password}`,
    `oci:${env.LAYOUT}:v1`, `docker://${env.VIGIL_HOST}/uiteam/app:live`], { env });
  const fresh = page.locator("#event-rows tr.fresh", { hasText: "push_repo uiteam/app:live" });
  await fresh.first().waitFor({ timeout: WAIT });
  assert.match(await page.textContent("#live-status"), /new event/);
  await page.click("#live-toggle");
});

test("an event's inclusion proof is checked in the browser against the signed checkpoint", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/logs?kind=push_repo&repository=uiteam/app`);
  const seq = (await seqs(page)).at(-1);
  // The event joins a signed checkpoint within seconds.
  for (let i = 0; i < 40; i++) {
    await page.goto(`${URL_}/ui/event/${seq}`);
    if (await page.isVisible("#proof")) break;
    await page.waitForTimeout(250);
  }
  await page.click("#check-proof");
  await page.waitForSelector("#proof-result.ok, #proof-result.fail", { timeout: WAIT });
  assert.match(await page.textContent("#proof-result"), new RegExp(`^Verified: event #${seq} is in the log`));
  assert.equal(await page.locator("#proof-steps li.ok").count(), 5);
  await shot(page, "proof");
  // The receipt verifies offline with vigil's own verifier and the key alone.
  const key = await page.inputValue("#pinned-key");
  const [receipt] = await Promise.all([page.waitForEvent("download"), page.click("#receipt")]);
  const verified = await run(env.BINARY, ["audit", "verify", "--receipt", await receipt.path(), "--key", key],
    { env: { PATH: env.PATH }, cwd: "/" });
  assert.match(verified.stdout + verified.stderr, new RegExp(`seq ${seq} is in the log .*\\nOK: the audit log verifies`));
  // Another key: the signature check fails, and the page says so.
  const other = key.replace(/\+([0-9a-f]{8})\+/, "+00000000+");
  await page.fill("#pinned-key", other);
  await page.click("#check-proof");
  await page.waitForSelector("#proof-result.fail", { timeout: WAIT });
  assert.match(await page.textContent("#proof-result"), /^Not verified/);
});

test("values clients sent stay text: a script in a user agent and in a user name never runs", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/logs?operation=GetManifest`);
  await page.click(`#event-rows tr:has(code.ua) summary`);
  const agents = await page.$$eval("#event-rows code.ua", (c) => c.map((x) => x.textContent));
  assert.ok(agents.includes(env.XSS_AGENT), agents.join("\n"));
  await page.goto(`${URL_}/ui/logs?kind=login_failure`);
  const users = await page.$$eval("#event-rows tr td:nth-child(5)", (c) => c.map((x) => x.textContent));
  assert.ok(users.includes("<img src=x onerror=window.__xss=3>"), users.join("\n"));
  assert.equal(await page.evaluate(() => window.__xss), undefined, "no injected script ran");
});

test("a user sees only what they may read", async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await signIn(page, VIEWER);
  // Their own repository, and public ones (other tests on this server make some); never the team's.
  const names = await page.$$eval("#repos tbody tr td:first-child", (tds) => tds.map((t) => t.textContent.trim()));
  assert.ok(names.includes(`${VIEWER.user}/mine`), names.join(","));
  assert.ok(!names.some((n) => n.startsWith("uiteam/")), names.join(","));
  let resp = await page.goto(`${URL_}/ui/repo/uiteam/app`);
  assert.equal(resp.status(), 404, "the same answer as for a missing repository");
  // A namespace they do not administer shows only their own events in it, as the API narrows it.
  resp = await page.goto(`${URL_}/ui/logs?namespace=uiteam`);
  assert.equal(resp.status(), 200);
  assert.equal(await page.textContent("#heading"), "Your usage logs in namespace uiteam");
  const inTeam = await page.$$eval("#event-rows tr td:nth-child(5)", (c) => c.map((x) => x.textContent));
  assert.ok(inTeam.every((u) => u === VIEWER.user), inTeam.join(","));
  // Another user's events: refused, never widened.
  resp = await page.goto(`${URL_}/ui/logs?user=${ADMIN.user}`);
  assert.equal(resp.status(), 403);
  assert.match(await page.textContent("#logs-error"), /your own events/);
  await page.goto(`${URL_}/ui/logs`);
  assert.equal(await page.textContent("#heading"), "Your usage logs");
  const users = await page.$$eval("#event-rows tr td:nth-child(5)", (c) => c.map((x) => x.textContent));
  assert.ok(users.length > 0 && users.every((u) => u === VIEWER.user), users.join(","));
  // An admin's event is not theirs to open.
  resp = await page.goto(`${URL_}/ui/event/1`);
  assert.equal(resp.status(), 404);
  resp = await ctx.request.get(`${URL_}/ui/logs/export.ndjson?user=${ADMIN.user}`);
  assert.equal(resp.status(), 403);
  await ctx.close();
});

test("pages fit a narrow window", async () => {
  await adminPage.setViewportSize({ width: 390, height: 800 });
  for (const path of ["/ui/", "/ui/logs", "/ui/repo/uiteam/app", "/ui/integrity"]) {
    await adminPage.goto(`${URL_}${path}`);
    const overflow = await adminPage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${path} is ${overflow}px wider than the window`);
  }
  await adminPage.setViewportSize({ width: 1280, height: 900 });
});

test("signing out ends the session at once", async () => {
  const page = adminPage;
  await page.goto(`${URL_}/ui/integrity`);
  assert.match(await page.textContent("#verifier-key"), /\+[0-9a-f]{8}\+/);
  const token = (await admin.cookies()).find((c) => c.name === "vigil_session").value;
  await page.click("form.signout button");
  await page.waitForURL(/\/ui\/login$/);
  await page.goto(`${URL_}/ui/`);
  assert.match(page.url(), /\/ui\/login\?next=/);
  // The old cookie, replayed, is dead: signing out revoked its token.
  const replay = await browser.newContext();
  await replay.addCookies([{ name: "vigil_session", value: token, url: `${URL_}/ui/` }]);
  const resp = await replay.request.get(`${URL_}/ui/`, { maxRedirects: 0 });
  assert.equal(resp.status(), 303);
  await replay.close();
  await admin.close();
});

test("no page logged an error or ran a script it should not have", () => {
  assert.deepEqual(problems, []);
});
