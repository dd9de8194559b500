// Browser test of the admin UI: a real `tinybase serve` on random loopback
// ports, driven in Debian's Chromium through playwright-core.
//
//   TB_BINARY=/path/to/tinybase node --test admin.test.mjs
//
// TB_BINARY defaults to ../../bin/tinybase (make test-browser builds it);
// TB_CHROMIUM to /usr/bin/chromium; screenshots of every page at desktop
// and phone width go to TB_BROWSER_OUT (default ./out).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = path.dirname(fileURLToPath(import.meta.url))
const BINARY = path.resolve(process.env.TB_BINARY || path.join(here, '..', '..', 'bin', 'tinybase'))
const CHROMIUM = process.env.TB_CHROMIUM || '/usr/bin/chromium'
const OUT = path.resolve(process.env.TB_BROWSER_OUT || path.join(here, 'out'))
const EMAIL = 'admin@example.com'
const PASSWORD = 'admin12345'
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const STEP_MS = 20_000

let dir
let profile
let server
let serverLog = ''
let base
let context
let page
const consoleErrors = []
const failedResponses = [] // 'status METHOD path' of every answer >= 400

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function waitHealthy(url, ms) {
  const deadline = Date.now() + ms
  let last = ''
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`tinybase serve exited (${server.exitCode}):\n${serverLog}`)
    try {
      const r = await fetch(`${url}/api/health`)
      if (r.ok) return
      last = `status ${r.status}`
    } catch (e) {
      last = e.message
    }
    await new Promise((r) => setTimeout(r, 150))
  }
  throw new Error(`api not healthy after ${ms} ms (${last}):\n${serverLog}`)
}

const running = () => server && server.exitCode === null && server.signalCode === null

/** stopServer ends `tinybase serve`: SIGTERM lets the supervisor stop its
 * roles (which run in process groups of their own), SIGKILL follows. */
async function stopServer() {
  if (!running()) return
  try { process.kill(-server.pid, 'SIGTERM') } catch { /* already gone */ }
  await new Promise((r) => { server.once('exit', r); setTimeout(r, 10_000) })
  if (running()) try { process.kill(-server.pid, 'SIGKILL') } catch { /* already gone */ }
}
// Last resort when the test process itself is ended.
process.on('exit', () => { if (running()) try { process.kill(-server.pid, 'SIGKILL') } catch { /* gone */ } })
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, async () => {
    await stopServer()
    try { if (context) await context.close() } catch { /* exiting anyway */ }
    for (const d of [dir, profile]) if (d) fs.rmSync(d, { recursive: true, force: true })
    process.exit(130)
  })
}

/** shoot saves the page at desktop and at phone width. */
async function shoot(name) {
  await page.screenshot({ path: path.join(OUT, `${name}-desktop.png`), fullPage: true })
  await page.setViewportSize(PHONE)
  await page.waitForTimeout(150)
  await page.screenshot({ path: path.join(OUT, `${name}-phone.png`), fullPage: true })
  // Nothing may push the page sideways at phone width (wide tables scroll in their box).
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  await page.setViewportSize(DESKTOP)
  assert.ok(width <= PHONE.width, `${name}: the page is ${width}px wide at phone width`)
}

const tid = (id) => `[data-testid="${id}"]`

before(async () => {
  assert.ok(fs.existsSync(BINARY), `no tinybase binary at ${BINARY} (run make build or set TB_BINARY)`)
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`)
  fs.mkdirSync(OUT, { recursive: true })
  for (const f of fs.readdirSync(OUT)) if (f.startsWith('FAILED-')) fs.rmSync(path.join(OUT, f))
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-browser-'))
  const init = spawnSync(BINARY, ['init', '--dir', dir, '--admin-email', EMAIL, '--admin-password', PASSWORD], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(init.status, 0, `tinybase init failed:\n${init.stdout}\n${init.stderr}`)

  const [httpPort, busPort] = [await freePort(), await freePort()]
  base = `http://127.0.0.1:${httpPort}`
  server = spawn(BINARY, ['serve', '--dir', dir, '--workers', '1'], {
    cwd: dir,
    detached: true, // own process group, so the kill reaches api, scheduler and workers
    env: { ...process.env, TINYBASE_SERVER_HOST: '127.0.0.1', TINYBASE_SERVER_PORT: String(httpPort), TINYBASE_BUS_PORT: String(busPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const keep = (d) => { serverLog = (serverLog + d).slice(-20_000) }
  server.stdout.on('data', keep)
  server.stderr.on('data', keep)
  await waitHealthy(base, 60_000)

  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-chromium-'))
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  context.setDefaultTimeout(STEP_MS)
  page = context.pages()[0] || await context.newPage()
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`))
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`console: ${m.text()}`) })
  // The console does not say which resource failed; the responses do.
  page.on('response', (r) => { if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`) })
})

after(async () => {
  try { if (context) await context.close() } catch { /* closing anyway */ }
  await stopServer()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  if (profile) fs.rmSync(profile, { recursive: true, force: true })
})

// stepper returns step(name, fn), which runs one part of test t; on
// failure it saves a screenshot and the page's text next to the others,
// then fails as usual.
function stepper(t) {
  return (name, fn) => t.test(name, async (st) => {
    try {
      await fn(st)
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)
      await page.screenshot({ path: path.join(OUT, `FAILED-${slug}.png`), fullPage: true }).catch(() => {})
      const text = await page.evaluate(() => `${location.href}\n\n${document.body.innerText}`).catch(() => '')
      fs.writeFileSync(path.join(OUT, `FAILED-${slug}.txt`), `${e.stack}\n\n${text}\n\nserver log tail:\n${serverLog.slice(-4000)}`)
      throw e
    }
  })
}

test('admin UI end to end', { timeout: 300_000 }, async (t) => {
  const step = stepper(t)

  await step('a deep link before sign-in lands on the login page', async () => {
    const resp = await page.goto(`${base}/admin/collections`)
    assert.equal(resp.status(), 200)
    await page.waitForURL((u) => u.pathname === '/admin/login')
    assert.equal(new URL(page.url()).searchParams.get('redirect'), '/admin/collections')
    await page.locator(tid('login-form')).waitFor()
    await shoot('login')
  })

  await step('sign in returns to the deep link and the collections page renders', async () => {
    await page.goto(`${base}/admin/login?redirect=%2Fadmin%2Fcollections`)
    await page.fill('input[name="email"]', EMAIL)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click(tid('login-submit'))
    await page.waitForURL((u) => u.pathname === '/admin/collections')
    await page.locator(tid('collections-page')).waitFor()
    assert.equal(await page.locator(tid('not-found')).count(), 0)
    await shoot('collections-empty')
  })

  await step('build a collection with two fields, one unique, in the visual editor', async () => {
    await page.click(tid('collection-new'))
    await page.waitForURL((u) => u.pathname === '/admin/collections/new')
    await page.fill(tid('collection-name'), 'books')
    assert.equal(await page.inputValue(tid('collection-label')), 'Books')
    const fields = page.locator(tid('schema-field'))
    await fields.nth(0).locator(tid('field-name')).fill('title')
    await page.click(tid('field-add'))
    await fields.nth(1).locator(tid('field-name')).fill('isbn')
    await fields.nth(1).locator(tid('field-type')).selectOption('string')
    await fields.nth(1).locator(tid('field-unique')).check()
    await shoot('collection-editor')
    await page.click(tid('collection-save'))
    await page.waitForURL((u) => u.pathname === '/admin/collections/books')
    await page.locator(tid('records-page')).waitFor()
    const c = await (await fetch(`${base}/api/collections/books`)).json()
    assert.deepEqual(c.schema.fields.map((f) => [f.name, f.type, !!f.required, !!f.unique]),
      [['title', 'string', true, false], ['isbn', 'string', false, true]])
  })

  await step('add a record', async () => {
    await page.click(tid('record-new'))
    const dialog = page.locator(tid('record-dialog'))
    await dialog.locator('[name="title"]').fill('Dune')
    await dialog.locator('[name="isbn"]').fill('978-0441013593')
    await page.click(tid('record-save'))
    await page.locator(`${tid('records-table')} ${tid('row')}`).filter({ hasText: 'Dune' }).waitFor()
    assert.equal(await dialog.isVisible(), false)
    await shoot('records')
  })

  await step('a duplicate unique value shows the error on its field', async () => {
    await page.click(tid('record-new'))
    const dialog = page.locator(tid('record-dialog'))
    await dialog.locator('[name="title"]').fill('Dune, again')
    await dialog.locator('[name="isbn"]').fill('978-0441013593')
    await page.click(tid('record-save'))
    const err = dialog.locator(`[data-field="isbn"] ${tid('field-error')}`)
    await err.waitFor()
    assert.match(await err.innerText(), /another record already has this value/)
    assert.equal(await dialog.locator(`[data-field="title"] ${tid('field-error')}`).count(), 0)
    await shoot('record-duplicate')
    // Typed values: Escape and Cancel ask before discarding them.
    await page.keyboard.press('Escape')
    await page.locator(tid('confirm-dialog')).waitFor()
    await page.click(tid('confirm-cancel'))
    await page.locator(tid('confirm-dialog')).waitFor({ state: 'hidden' })
    assert.equal(await dialog.locator('[name="title"]').inputValue(), 'Dune, again')
    await page.click(tid('record-cancel'))
    await page.click(tid('confirm-ok'))
    await dialog.waitFor({ state: 'hidden' })
    assert.equal(await page.locator(`${tid('records-table')} ${tid('row')}`).count(), 1)
  })

  await step('edit a record, filter and sort the records', async () => {
    const rows = page.locator(`${tid('records-table')} ${tid('row')}`)
    await rows.filter({ hasText: 'Dune' }).getByRole('button', { name: 'Edit' }).click()
    const dialog = page.locator(tid('record-dialog'))
    assert.equal(await dialog.locator('[name="isbn"]').inputValue(), '978-0441013593')
    await dialog.locator('[name="title"]').fill('Dune Messiah')
    await page.click(tid('record-save'))
    await rows.filter({ hasText: 'Dune Messiah' }).waitFor()
    await page.click(tid('record-new'))
    await dialog.locator('[name="title"]').fill('Anathem')
    await page.click(tid('record-save'))
    await rows.filter({ hasText: 'Anathem' }).waitFor()

    await page.fill(tid('record-filter'), "title = 'Anathem' and")
    await page.keyboard.press('Enter')
    await page.locator(tid('filter-error')).waitFor()
    await page.fill(tid('record-filter'), "title contains 'Dune'")
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="records-table"] [data-testid="row"]').length === 1)
    assert.match(await rows.first().innerText(), /Dune Messiah/)
    assert.match(new URL(page.url()).searchParams.get('filter'), /contains/)
    await page.getByRole('button', { name: 'Clear' }).click()
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="records-table"] [data-testid="row"]').length === 2)

    await page.locator(`${tid('records-table')} th`).getByRole('button', { name: /title/ }).click() // desc
    await page.locator(`${tid('records-table')} th`).getByRole('button', { name: /title/ }).click() // asc
    await page.waitForFunction(() => /Anathem/.test(document.querySelector('[data-testid="records-table"] [data-testid="row"]')?.innerText || ''))
    assert.equal(new URL(page.url()).searchParams.get('sort_order'), 'asc')
    await shoot('records-sorted')

    // Delete asks first: Escape keeps the record, confirming removes it.
    const anathem = rows.filter({ hasText: 'Anathem' })
    await anathem.locator(tid('record-delete')).click()
    const confirmDialog = page.locator(tid('confirm-dialog'))
    await confirmDialog.waitFor()
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'confirm-cancel')
    await page.keyboard.press('Escape')
    await confirmDialog.waitFor({ state: 'hidden' })
    assert.equal(await anathem.count(), 1)
    await anathem.locator(tid('record-delete')).click()
    await page.click(tid('confirm-ok'))
    await anathem.waitFor({ state: 'detached' })
    assert.equal(await rows.count(), 1)
  })

  await step('the schema editor guards unsaved changes; a number must be finite', async () => {
    await page.click(tid('edit-schema'))
    await page.waitForURL((u) => u.pathname === '/admin/collections/books/schema')
    const unloadBlocked = () => page.evaluate(() => {
      const e = new Event('beforeunload', { cancelable: true })
      window.dispatchEvent(e)
      return e.defaultPrevented
    })
    assert.equal(await unloadBlocked(), false)
    await page.click(tid('field-add'))
    const fields = page.locator(tid('schema-field'))
    await fields.nth(2).locator(tid('field-name')).fill('price')
    await fields.nth(2).locator(tid('field-type')).selectOption('number')
    assert.equal(await unloadBlocked(), true)
    await page.getByRole('link', { name: 'Cancel' }).click()
    await page.locator(tid('confirm-dialog')).waitFor()
    await page.click(tid('confirm-cancel'))
    assert.equal(new URL(page.url()).pathname, '/admin/collections/books/schema')
    await page.click(tid('collection-save')) // no question after a save
    await page.waitForURL((u) => u.pathname === '/admin/collections/books')
    assert.equal(await page.locator(tid('confirm-dialog')).isVisible(), false)

    await page.click(tid('record-new'))
    const dialog = page.locator(tid('record-dialog'))
    await dialog.locator('[name="title"]').fill('Too dear')
    await dialog.locator('[name="price"]').fill('1e400')
    await page.click(tid('record-save'))
    await dialog.locator(`[data-field="price"] ${tid('field-error')}`).filter({ hasText: 'must be a finite number' }).waitFor()
    await page.keyboard.press('Escape')
    await page.click(tid('confirm-ok'))
    await dialog.waitFor({ state: 'hidden' })
    assert.equal(await page.locator(`${tid('records-table')} ${tid('row')}`).count(), 1)
  })

  await step('create a user, see a refused password at its field, delete the user', async () => {
    await page.goto(`${base}/admin/users`)
    await page.click(tid('user-new'))
    const dialog = page.locator(tid('user-dialog'))
    await dialog.locator('[name="email"]').fill('Ann@Example.com')
    await dialog.locator('[name="password"]').fill('short')
    await page.click(tid('user-save'))
    await dialog.locator(`[data-field="password"] ${tid('field-error')}`).filter({ hasText: '8 characters' }).waitFor()
    await dialog.locator('[name="password"]').fill('long-enough-1')
    await page.click(tid('user-save'))
    const row = page.locator(`${tid('users-table')} ${tid('row')}`).filter({ hasText: 'ann@example.com' })
    await row.waitFor()
    await shoot('users')
    await row.getByRole('button', { name: 'Delete' }).click()
    await page.click(tid('confirm-ok'))
    await row.waitFor({ state: 'detached' })
  })

  await step('call hello from its form on the functions page', async () => {
    await page.goto(`${base}/admin/functions`)
    const fn = page.locator(tid('function-hello'))
    await fn.waitFor({ timeout: 30_000 })
    await fn.locator(tid('call-open')).click()
    const form = page.locator(tid('call-form'))
    await form.locator('[name="name"]').fill('Ada')
    await page.locator(tid('call-submit')).click()
    const result = page.locator(tid('call-result'))
    await result.filter({ hasText: 'Hello, Ada' }).waitFor({ timeout: 60_000 })
    assert.match(await result.innerText(), /succeeded/)
    await shoot('functions')
  })

  await step('create a cron schedule and see its next fire times', async () => {
    await page.goto(`${base}/admin/schedules`)
    await page.locator(tid('schedule-new')).click()
    const form = page.locator(tid('schedule-form'))
    await form.locator('[name="name"]').fill('every five minutes')
    await form.locator('[name="function_name"]').selectOption('hello')
    const kind = form.locator('[name="kind"]')
    if ((await kind.first().getAttribute('type')) === 'radio') await form.locator('[name="kind"][value="cron"]').check()
    else await kind.selectOption('cron')
    await form.locator('[name="cron"]').fill('*/5 * * * *')
    const preview = page.locator(tid('schedule-preview'))
    await preview.filter({ hasText: /\d{1,2}:\d{2}/ }).waitFor()
    await shoot('schedule-form')
    await page.locator(tid('schedule-submit')).click()
    await page.getByText('every five minutes').filter({ visible: true }).first().waitFor()
    await shoot('schedules')
  })

  await step('the dashboard activity feed shows those actions, live', async (t) => {
    await page.goto(`${base}/admin`)
    const feed = page.locator(tid('activity-feed'))
    await feed.locator('[data-kind="record.created"]').first().waitFor()
    // Calls appear once the api records them in the activity log; the feed
    // must show what the log holds.
    const logged = await page.evaluate(async () => {
      const r = await fetch('/api/admin/activity?kind=function.call_finished&limit=1', {
        headers: { Authorization: `Bearer ${localStorage.getItem('tb_access_token')}` },
      })
      return r.ok ? (await r.json()).items.length : 0
    })
    if (logged) await feed.locator('[data-kind^="function.call"]').first().waitFor()
    else t.diagnostic('the activity log holds no function.call_finished entries yet; not checked in the feed')
    await page.waitForSelector(`${tid('activity-feed')}[data-mode="live"]`)
    // A write made now arrives over the event stream without a reload.
    const status = await page.evaluate(async () => {
      const r = await fetch('/api/collections/books/records', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${localStorage.getItem('tb_access_token')}` },
        body: JSON.stringify({ data: { title: 'Live', isbn: 'live-1' } }),
      })
      return r.status
    })
    assert.equal(status, 201)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="activity-feed"] [data-kind="record.created"]').length >= 2)
    await shoot('dashboard')
  })

  await step('a signed-in visit to the login page follows only same-origin /admin redirects', async () => {
    const cases = [
      ['/admin/users?x=1', '/admin/users'],
      ['//evil.example/admin', '/admin'],
      ['https://evil.example/admin', '/admin'],
      ['/\\evil.example/admin', '/admin'],
      ['/admin/../api/health', '/admin'],
      ['/auth/login', '/admin'],
      ['javascript:alert(1)', '/admin'],
    ]
    for (const [redirect, want] of cases) {
      await page.goto(`${base}/admin/login?redirect=${encodeURIComponent(redirect)}`)
      await page.waitForURL((u) => u.pathname !== '/admin/login')
      const u = new URL(page.url())
      assert.equal(u.origin, base, redirect)
      assert.equal(u.pathname, want, redirect)
    }
  })

  await step('the menu collapses at phone width and Escape closes it', async () => {
    await page.setViewportSize(PHONE)
    const nav = page.locator('#sidebar')
    await page.click(tid('menu-toggle'))
    await page.waitForFunction(() => document.querySelector('#sidebar').getBoundingClientRect().left >= 0)
    await page.screenshot({ path: path.join(OUT, 'menu-open-phone.png') })
    await page.keyboard.press('Escape')
    await page.waitForFunction(() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0)
    assert.ok(await nav.count())
    await page.setViewportSize(DESKTOP)
  })

  await step('every other page renders', async () => {
    const pages = [
      ['collection-schema', '/admin/collections/books/schema', 'collection-editor'],
      ['function-calls', '/admin/function-calls', null],
      ['workers', '/admin/workers', null],
      ['extensions', '/admin/extensions', null],
      ['settings', '/admin/settings', null],
      ['profile', '/admin/profile', null],
      ['not-found', '/admin/no-such-page', 'not-found'],
    ]
    for (const [name, p, marker] of pages) {
      const resp = await page.goto(`${base}${p}`)
      assert.equal(resp.status(), 200, p)
      if (marker) await page.locator(tid(marker)).waitFor()
      else await page.locator('main h1').first().waitFor()
      await page.waitForLoadState('networkidle').catch(() => {})
      await shoot(name)
    }
  })

  await step('dark mode', async () => {
    await page.goto(`${base}/admin`)
    await page.locator(tid('activity-feed')).waitFor()
    await page.click(tid('theme-toggle'))
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('dark')), true)
    await page.reload()
    await page.locator(tid('activity-feed')).waitFor()
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('dark')), true, 'the choice survives a reload')
    await shoot('dashboard-dark')
    await page.click(tid('theme-toggle'))
  })

  await step('the auth portal answers its deep links', async () => {
    for (const [name, p, marker] of [
      ['portal-login', '/auth/login', 'portal-login-form'],
      ['portal-register', '/auth/register', 'portal'],
      ['portal-reset', '/auth/password-reset', 'portal'],
      ['portal-reset-token', '/auth/password-reset/0000000000000000000000000000000000000000000000000000000000000000', 'portal-reset-form'],
    ]) {
      const resp = await page.goto(`${base}${p}`)
      assert.equal(resp.status(), 200, p)
      await page.locator(tid(marker)).waitFor()
      await shoot(name)
    }
    // The reset link's form reports a dead token; the request form answers the same for any address.
    await page.fill('input[name="password"]', 'new-password-1')
    await page.fill('input[name="confirm"]', 'new-password-1')
    await page.click('button[type="submit"]')
    await page.locator(tid('portal-error')).filter({ hasText: 'Invalid or expired reset token' }).waitFor()
    await page.goto(`${base}/auth/password-reset`)
    await page.fill('input[name="email"]', 'nobody@example.com')
    await page.click('button[type="submit"]')
    await page.locator(tid('portal-reset-sent')).filter({ hasText: 'If the email exists' }).waitFor()
  })

  await step('the portal is branded and goes only to the configured redirect URLs', async () => {
    const status = await page.evaluate(async (settings) => {
      const r = await fetch('/api/admin/settings', {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${localStorage.getItem('tb_access_token')}` },
        body: JSON.stringify(settings),
      })
      return r.status
    }, {
      'core.instance_name': 'Acme Books',
      'core.auth.allow_public_registration': true,
      'core.auth.portal.primary_color': '#e11d48',
      // Same-origin pages stand in for the app here (a JSON page would make
      // Chromium fetch a missing /favicon.ico).
      'core.auth.portal.login_redirect_url': `${base}/auth/login?from=login`,
      'core.auth.portal.register_redirect_url': `${base}/auth/login?from=register`,
    })
    assert.equal(status, 200)

    // ?redirect= never chooses where the portal sends a signed-in user.
    await page.goto(`${base}/auth/login?redirect=${encodeURIComponent('https://evil.example/')}`)
    await page.locator(tid('portal')).filter({ hasText: 'Acme Books' }).waitFor()
    const colour = await page.locator(tid('portal')).evaluate((el) => getComputedStyle(el).getPropertyValue('--tb-primary').trim())
    assert.equal(colour, '#e11d48')
    await shoot('portal-branded')
    await page.fill('input[name="email"]', EMAIL)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.waitForURL(`${base}/auth/login?from=login`)

    await page.goto(`${base}/auth/register?redirect=${encodeURIComponent('https://evil.example/')}`)
    await page.fill('input[name="email"]', 'reader@example.com')
    await page.fill('input[name="password"]', 'reader-password-1')
    await page.fill('input[name="confirm"]', 'reader-password-1')
    await page.click('button[type="submit"]')
    await page.waitForURL(`${base}/auth/login?from=register`)
    // The portal signed the new user in; the admin signs in again below.
  })

  await step('an expired access token is renewed; a dead session goes to the login page and back', async () => {
    await page.goto(`${base}/admin`)
    await page.locator(tid('dashboard')).waitFor()
    const before = await page.evaluate(() => localStorage.getItem('tb_refresh_token'))
    await page.evaluate(() => localStorage.setItem('tb_access_token', 'not-a-valid-token'))
    // The portal left reader@example.com signed in: a page any user may see.
    await page.goto(`${base}/admin/collections`)
    await page.locator(tid('collections-page')).waitFor()
    const after = await page.evaluate(() => [localStorage.getItem('tb_access_token'), localStorage.getItem('tb_refresh_token')])
    assert.notEqual(after[0], 'not-a-valid-token', 'the access token was renewed')
    assert.notEqual(after[1], before, 'the refresh token was rotated')

    await page.evaluate(() => {
      localStorage.setItem('tb_access_token', 'not-a-valid-token')
      localStorage.setItem('tb_refresh_token', 'not-a-valid-token-either')
    })
    await page.goto(`${base}/admin/collections/books?offset=0`)
    await page.waitForURL((u) => u.pathname === '/admin/login')
    assert.equal(new URL(page.url()).searchParams.get('redirect'), '/admin/collections/books?offset=0')
    assert.equal(await page.evaluate(() => localStorage.getItem('tb_access_token')), null)
    await page.fill('input[name="email"]', EMAIL)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click(tid('login-submit'))
    await page.waitForURL((u) => u.pathname === '/admin/collections/books')
    await page.locator(tid('records-page')).waitFor()
  })

  await step('admin sign-in ignores an off-site redirect', async () => {
    await page.goto(`${base}/admin`)
    await page.click(tid('logout'))
    await page.waitForURL((u) => u.pathname === '/admin/login')
    await page.goto(`${base}/admin/login?redirect=${encodeURIComponent('//evil.example/admin')}`)
    await page.fill('input[name="email"]', EMAIL)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click(tid('login-submit'))
    await page.waitForURL((u) => u.pathname === '/admin')
    assert.equal(new URL(page.url()).origin, base)
  })

  await step('no script errors', () => {
    // 401s while signed out, the deliberate 409 and 422 above and aborted streams on
    // navigation are expected noise.
    const real = consoleErrors.filter((e) => !/status of (40[0139]|422)|ERR_ABORTED|EventSource|net::ERR/.test(e))
    assert.deepEqual(real, [], `failed responses so far: ${JSON.stringify(failedResponses)}`)
    // A missing page, script or API route, or a server error, is never expected.
    assert.deepEqual(failedResponses.filter((r) => /^(404|5\d\d) /.test(r)), [])
  })
})

// UI-B's pages: functions (upload, schema form, validation, failure),
// function calls (filters, detail with stderr), schedules (preview errors,
// run now, history, pause), workers, settings (field errors, tokens),
// profile. Runs after the test above, signed in as the admin, and uses the
// 'every five minutes' schedule it created. It signs in no more times.
test('functions, calls, schedules, workers, settings and profile pages', { timeout: 300_000 }, async (t) => {
  const errorsBefore = consoleErrors.length
  const step = stepper(t)
  const divide = [
    'import sys',
    'from dataclasses import dataclass',
    'from tinybase_sdk import register',
    'from tinybase_sdk.cli import run',
    '',
    '',
    '@dataclass',
    'class DivideInput:',
    '    a: float',
    '    b: float',
    '',
    '',
    '@register(name="divide", description="Divide a by b", auth="auth", tags=["math"])',
    'def divide(client, payload: DivideInput) -> dict:',
    '    print(f"dividing {payload.a} by {payload.b}", file=sys.stderr)',
    '    return {"quotient": payload.a / payload.b}',
    '',
    '',
    'if __name__ == "__main__":',
    '    run()',
    '',
  ].join('\n')

  await step('upload a function and see it listed', async () => {
    await page.goto(`${base}/admin/functions`)
    await page.locator(tid('function-hello')).waitFor({ timeout: 30_000 })
    await page.click(tid('upload-open'))
    const dialog = page.locator(tid('upload-dialog'))
    await dialog.locator('[name="filename"]').fill('divide.py')
    await dialog.locator('[name="content"]').fill(divide)
    await dialog.locator('[name="notes"]').fill('first version')
    await page.click(tid('upload-submit'))
    await dialog.locator(tid('upload-result')).waitFor({ timeout: 70_000 })
    assert.match(await dialog.locator(tid('upload-result')).innerText(), /deployed/)
    await shoot('function-upload')
    await page.keyboard.press('Escape')
    await page.locator(tid('function-divide')).waitFor({ timeout: 30_000 })
  })

  await step('the call form shows a missing field at the field and a failure in the result', async () => {
    await page.goto(`${base}/admin/functions/divide`)
    const form = page.locator(tid('call-form'))
    await form.locator('[name="a"]').fill('1')
    await page.click(tid('call-submit'))
    await form.locator(`[data-field="b"] ${tid('field-error')}`).waitFor()
    await form.locator('[name="b"]').fill('0')
    await page.click(tid('call-submit'))
    const result = page.locator(tid('call-result'))
    await result.filter({ hasText: 'ZeroDivisionError' }).waitFor({ timeout: 60_000 })
    assert.match(await result.innerText(), /failed/)
    assert.equal(await page.locator(tid('version-row')).count(), 1)
    await shoot('function-failed')
  })

  await step('an asynchronous call shows its result when the worker reports', async () => {
    const form = page.locator(tid('call-form'))
    await form.locator('[name="b"]').fill('4')
    await page.check(tid('call-async'))
    await page.click(tid('call-submit'))
    await page.locator(tid('call-result')).filter({ hasText: '0.25' }).waitFor({ timeout: 60_000 })
  })

  await step('a new version keeps the file name; number fields are checked as typed', async () => {
    // The picked file gives only the content: the name stays divide.py.
    await page.click(tid('upload-open'))
    const dialog = page.locator(tid('upload-dialog'))
    const filename = dialog.locator('[name="filename"]')
    assert.equal(await filename.inputValue(), 'divide.py')
    assert.equal(await filename.getAttribute('readonly'), '')
    const v2 = divide.replace('    b: float\n', '    b: float\n    digits: int = 6\n')
      .replace('payload.a / payload.b}', 'round(payload.a / payload.b, payload.digits)}')
    await dialog.locator(tid('upload-file')).setInputFiles({ name: 'divide_v2.py', mimeType: 'text/x-python', buffer: Buffer.from(v2) })
    await page.waitForFunction(() => /digits/.test(document.querySelector('[data-testid="upload-dialog"] [name="content"]')?.value || ''))
    assert.equal(await filename.inputValue(), 'divide.py')
    await page.click(tid('upload-submit'))
    await dialog.locator(tid('upload-result')).waitFor({ timeout: 70_000 })
    await page.keyboard.press('Escape')
    const files = await page.evaluate(async () => (await (await fetch('/api/functions/admin/list', {
      headers: { Authorization: `Bearer ${localStorage.getItem('tb_access_token')}` } })).json())
      .filter((f) => f.name === 'divide').map((f) => f.file_path))
    assert.equal(files.length, 1, files.join(', '))
    assert.match(files[0], /(^|\/)divide\.py$/)

    const form = page.locator(tid('call-form'))
    for (let i = 0; i < 20; i++) { // the new schema reaches the registry a moment after the upload
      await page.goto(`${base}/admin/functions/divide`)
      if (await form.locator('[name="digits"]').waitFor({ timeout: 1500 }).then(() => true, () => false)) break
    }
    await form.locator('[name="a"]').fill('1')
    await form.locator('[name="b"]').fill('3')
    await form.locator('[name="digits"]').fill('1.5')
    await form.locator(`[data-field="digits"] ${tid('field-error')}`).filter({ hasText: 'must be a whole number' }).waitFor()
    assert.equal(await page.locator(tid('call-submit')).isDisabled(), true)
    await form.locator('[name="digits"]').fill('2')
    await form.locator('[name="a"]').fill('1e999')
    await form.locator(`[data-field="a"] ${tid('field-error')}`).filter({ hasText: 'must be a finite number' }).waitFor()
    assert.equal(await form.locator(`[data-field="digits"] ${tid('field-error')}`).count(), 0)
    assert.equal(await page.locator(tid('call-submit')).isDisabled(), true)
    await form.locator('[name="a"]').fill('1')
    await page.click(tid('call-submit'))
    await page.locator(tid('call-result')).filter({ hasText: '0.33' }).waitFor({ timeout: 60_000 })
  })

  await step('the call history filters by status and shows a call with its stderr', async () => {
    await page.goto(`${base}/admin/function-calls?status=failed`)
    const rows = page.locator(`${tid('calls-table')} ${tid('row')}`)
    await rows.filter({ hasText: 'ZeroDivisionError' }).first().waitFor()
    assert.equal(await rows.filter({ hasText: 'succeeded' }).count(), 0)
    await shoot('function-calls-failed')
    await rows.filter({ hasText: 'ZeroDivisionError' }).first().click()
    await page.waitForURL((u) => u.pathname.startsWith('/admin/function-calls/'))
    await page.locator(tid('call-error')).filter({ hasText: 'float division by zero' }).waitFor()
    await page.locator(tid('call-stderr')).filter({ hasText: 'dividing 1.0 by 0.0' }).waitFor()
    await shoot('function-call-detail')
  })

  await step('an invalid cron expression is explained before saving', async () => {
    await page.goto(`${base}/admin/schedules`)
    await page.click(tid('schedule-new'))
    const form = page.locator(tid('schedule-form'))
    await form.locator('[name="cron"]').fill('*/5 * * *')
    await page.locator(tid('schedule-preview-error')).filter({ hasText: 'five fields' }).waitFor()
    await form.locator(`[data-field="cron"] ${tid('field-error')}`).waitFor()
    await form.locator('[name="cron"]').fill('0 9 * * MON-FRI')
    await form.locator('[name="timezone"]').selectOption('Europe/Berlin')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="preview-time"]').length === 5)
    await shoot('schedule-preview')
    await page.keyboard.press('Escape')
    await page.click(tid('confirm-ok')) // discard the unsaved form
  })

  await step('run a schedule now, see the run in its history, pause it', async () => {
    const row = page.locator(`${tid('schedules-table')} ${tid('row')}`).filter({ hasText: 'every five minutes' })
    await row.locator(tid('schedule-run')).click()
    await page.waitForURL((u) => u.pathname.startsWith('/admin/function-calls/'))
    await page.locator(`${tid('call-detail')} ${tid('call-status')}`).filter({ hasText: 'succeeded' }).waitFor({ timeout: 60_000 })
    await page.goto(`${base}/admin/schedules`)
    await row.locator(tid('schedule-history')).click()
    await page.locator(`${tid('schedule-history-table')} ${tid('row')}`).first().waitFor()
    await shoot('schedule-history')
    await page.keyboard.press('Escape')
    await row.locator(tid('schedule-toggle')).click()
    await row.filter({ hasText: 'paused' }).waitFor()
  })

  await step('the workers page shows the live pool', async () => {
    await page.goto(`${base}/admin/workers`)
    await page.locator(tid('worker-row')).first().waitFor()
    assert.equal(await page.locator(tid('total-workers')).innerText(), '1')
    await shoot('workers-live')
  })

  await step('settings show a refused value at its field and save a valid change', async () => {
    await page.goto(`${base}/admin/settings`)
    await page.fill('input[name="core.auth.portal.logo_url"]', 'not a url')
    await page.click(tid('settings-save'))
    const err = page.locator(`[data-field="core.auth.portal.logo_url"] ${tid('field-error')}`)
    await err.waitFor()
    assert.match(await err.innerText(), /http/)
    await shoot('settings-error')
    await page.fill('input[name="core.auth.portal.logo_url"]', '')
    await page.fill('input[name="core.instance_name"]', 'Browser Test')
    await page.click(tid('settings-save'))
    await page.locator(tid('settings-savebar')).waitFor({ state: 'detached' })
    const s = await page.evaluate(async () => (await fetch('/api/admin/settings', {
      headers: { Authorization: `Bearer ${localStorage.getItem('tb_access_token')}` } })).json())
    assert.equal(s.instance_name, 'Browser Test')
    assert.equal(s.auth_portal_logo_url, '')
  })

  await step('an application token is shown once', async () => {
    await page.click(tid('token-new'))
    await page.locator(tid('token-dialog')).locator('[name="name"]').fill('ci')
    await page.click(tid('token-create'))
    assert.match(await page.inputValue(tid('token-value')), /^tb_/)
    await shoot('token-created')
    await page.click(tid('token-done'))
    await page.click(tid('confirm-ok')) // closing without copying asks first
    await page.locator(tid('token-row')).filter({ hasText: 'ci' }).waitFor()
  })

  await step('the profile refuses a wrong current password at its field', async () => {
    await page.goto(`${base}/admin/profile`)
    const form = page.locator(tid('password-form'))
    await form.locator('[name="current_password"]').fill('not-the-password')
    await form.locator('[name="password"]').fill('another-password')
    await form.locator('[name="repeat"]').fill('another-password')
    await page.click(tid('password-submit'))
    await form.locator(`[data-field="current_password"] ${tid('field-error')}`).filter({ hasText: 'incorrect' }).waitFor()
    await shoot('profile')
  })

  await step('no unexpected script errors on these pages', () => {
    // The 400, 403 and 422 answers above are deliberate.
    const real = consoleErrors.slice(errorsBefore).filter((e) => !/status of (40[0139]|422)|ERR_ABORTED|EventSource|net::ERR/.test(e))
    assert.deepEqual(real, [])
  })
})

// A signed-in user who is not an admin: the pages offer only what the
// rules let them do, and admin pages say why they are out of reach. Runs
// last: it signs the admin out.
test('a user who is not an admin', { timeout: 120_000 }, async (t) => {
  const errorsBefore = consoleErrors.length
  const step = stepper(t)
  const USER = 'not-an-admin@example.com'
  const USER_PASSWORD = 'reader-password-1'

  await step('sign in as a user who is not an admin', async () => {
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }) })
    const { access_token: token } = await login.json()
    const created = await fetch(`${base}/api/admin/users`, { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ email: USER, password: USER_PASSWORD }) })
    assert.equal(created.status, 201, await created.text())
    await page.goto(`${base}/admin`)
    await page.click(tid('logout'))
    await page.waitForURL((u) => u.pathname === '/admin/login')
    await page.fill('input[name="email"]', USER)
    await page.fill('input[name="password"]', USER_PASSWORD)
    await page.click(tid('login-submit'))
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/')
  })

  await step('an admin page sends the user back with the reason', async () => {
    await page.goto(`${base}/admin/users`)
    await page.waitForURL((u) => u.pathname === '/admin' || u.pathname === '/admin/')
    await page.getByText('is for admins only').waitFor()
    await shoot('not-admin')
  })

  await step('a record owned by someone else can be viewed, not changed', async () => {
    await page.goto(`${base}/admin/collections/books`)
    const row = page.locator(`${tid('records-table')} ${tid('row')}`).first()
    await row.waitFor()
    assert.equal(await row.getByRole('button', { name: 'Edit' }).count(), 0)
    assert.equal(await row.locator(tid('record-delete')).count(), 0)
    await row.getByRole('button', { name: 'View' }).click()
    const dialog = page.locator(tid('record-dialog'))
    await dialog.locator(tid('record-readonly')).waitFor()
    assert.equal(await page.locator(tid('record-save')).count(), 0)
    assert.equal(await dialog.locator('[name="title"]').isDisabled(), true)
    await shoot('record-readonly')
    await page.click(tid('record-cancel'))
    await dialog.waitFor({ state: 'hidden' })
  })

  await step('no unexpected script errors as that user', () => {
    const real = consoleErrors.slice(errorsBefore).filter((e) => !/status of (40[0139]|422)|ERR_ABORTED|EventSource|net::ERR/.test(e))
    assert.deepEqual(real, [])
  })
})
