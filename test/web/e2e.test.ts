/**
 * The upload page end to end in a real headless Chromium, against the whole local system
 * (`blipline dev`: S3/SQS/DynamoDB emulators, Redis, API, worker with the tiny fixture models, and the
 * local OpenID provider the page signs in through). Screenshots go to test-artifacts/web/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { type BrowserContext, chromium, type FileChooser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { modelLabel } from '../../services/web/src/state/messages.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { buildPage, type DevStack, devClientToken, startDev } from './support/dev-stack.js';
import { compareWithBaseline, MAX_DIFF_RATIO } from './support/visual.js';

const MAX_UPLOAD_BYTES = 250_000;
const artifacts = path.join(repoRoot, 'test-artifacts/web');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const ImageRecord = z.looseObject({
  imageId: z.string(),
  status: z.string(),
  caption: z.string().optional(),
  model: z.string().nullable().optional(),
  prompt: z.string().nullable().optional(),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable().optional(),
});
const QuestionRecord = z.looseObject({ status: z.string(), answer: z.string().optional() });
const Created = z.looseObject({ imageId: z.string(), upload: z.looseObject({ method: z.string() }) });

let dev: DevStack;
/** alice's client-credentials token: the API answers it as the owner the page signs in as. */
let aliceToken: string;
/** Content-Security-Policy violations reported by every page in the browser context. */
const cspViolations: string[] = [];
let page: Page;
let context: BrowserContext;
let profileDir: string;
let removePage: () => void = () => {};
/** The freshly built page both stacks serve. */
let webDir: string;
const devModels = (): string[] => ['--model', fixturePath('blip-tiny-captioning'), '--vqa-model', fixturePath('blip-tiny-vqa')];
/** filename -> imageId, from the page's own POST /v1/uploads calls. */
const imageIds = new Map<string, string>();
/** The browser's direct uploads to the local S3 endpoint. */
const s3Uploads: { method: string; url: string; contentType: string | undefined; status: number }[] = [];
const uploadRequests: string[] = [];
/** Resolvers waiting for the next file chooser (the listener is registered once, before any key press). */
const chooserWaiters: ((chooser: FileChooser) => void)[] = [];

function apiFetch(pathname: string): Promise<Response> {
  return fetch(new URL(pathname, dev.ready.api), { headers: { authorization: `Bearer ${aliceToken}` } });
}

async function apiGet<T>(schema: z.ZodType<T>, pathname: string): Promise<T> {
  const response = await apiFetch(pathname);
  expect(response.status, `GET ${pathname}`).toBe(200);
  return schema.parse(await response.json());
}

function card(name: string, on: Page = page): Locator {
  return on.getByRole('article', { name, exact: true });
}

/**
 * Signs in from a signed-out page as `login` (any password). Resolves whether the provider's login page
 * was shown: it is the first time in the browser context; later, the provider's session cookie makes
 * sign-in a redirect there and back.
 */
async function signIn(on: Page, login = 'alice'): Promise<boolean> {
  await on.locator('body[data-ready="true"][data-auth="signed-out"]').waitFor();
  const signedIn = on.locator('body[data-ready="true"][data-auth="signed-in"]');
  const loginField = on.locator('input[name="login"]');
  await on.getByRole('button', { name: 'Sign in', exact: true }).click();
  await loginField.or(signedIn).waitFor({ timeout: 30_000 });
  const loginPageShown = await loginField.isVisible();
  if (loginPageShown) {
    expect(new URL(on.url()).origin).toBe(new URL(dev.ready.auth.issuer).origin);
    await loginField.fill(login);
    await on.locator('input[name="password"]').fill('any password');
    await on.getByRole('button', { name: 'Sign-in' }).click();
    await signedIn.waitFor({ timeout: 30_000 });
  }
  // The callback's code and state are gone from the address bar.
  expect(new URL(on.url()).search).toBe('');
  expect(await on.locator('#account-user').textContent()).toBe(`Signed in as ${login} ·`);
  return loginPageShown;
}

/** Waits until the card is done or has failed, and returns its phase and status line. */
async function settle(name: string, timeout = 90_000, on: Page = page): Promise<{ phase: string; status: string }> {
  const settled = on.locator('article.card:is([data-phase="done"], [data-phase="failed"], [data-phase="upload_error"])', {
    has: on.getByRole('heading', { name, exact: true }),
  });
  await settled.waitFor({ timeout });
  return {
    phase: (await settled.getAttribute('data-phase')) ?? '',
    status: (await settled.getByRole('status').first().textContent()) ?? '',
  };
}

async function screenshot(name: string, on: Page = page): Promise<void> {
  await on.waitForFunction('Array.from(document.images).every((image) => image.complete)');
  // Finished transitions: a screenshot right after a colour-scheme switch would catch a fade half-way.
  await on.screenshot({ path: path.join(artifacts, name), fullPage: true, animations: 'disabled' });
}

/** Progress values each card showed, in order, recorded in the page by a MutationObserver. */
async function progressHistory(): Promise<Record<string, number[]>> {
  return page.evaluate(`window.__progressHistory`) as Promise<Record<string, number[]>>;
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  const built = await buildPage();
  removePage = built.remove;
  webDir = built.dir;
  dev = await startDev(devModels(), {
    BLIPLINE_WEB_DIR: built.dir,
    BLIPLINE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
  });
  expect(dev.ready.auth.mode).toBe('oidc');
  aliceToken = await devClientToken(dev.ready, 'alice');

  profileDir = mkdtempSync(path.join(tmpdir(), 'blipline-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
  });
  // Every page of the context reports what its Content-Security-Policy refused.
  await context.exposeBinding('__reportCspViolation', ({ frame }, text: unknown) => cspViolations.push(`${frame.url()}: ${String(text)}`));
  await context.addInitScript(`
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__reportCspViolation(event.violatedDirective + ' ' + event.blockedURI);
    });
  `);
  // Record every progress value each card's bar shows (to check it only grows and ends at 100%).
  await context.addInitScript(`
    window.__progressHistory = {};
    new MutationObserver((records) => {
      for (const record of records) {
        const bar = record.target;
        if (!(bar instanceof HTMLProgressElement)) continue;
        const name = bar.closest('article')?.querySelector('h2')?.textContent ?? '?';
        const list = (window.__progressHistory[name] ??= []);
        if (list.at(-1) !== bar.value) list.push(bar.value);
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['value'] });
  `);
  page = context.pages()[0] ?? (await context.newPage());

  // A listener present from the start makes Chromium hand every file dialog to the test.
  page.on('filechooser', (chooser) => chooserWaiters.shift()?.(chooser));
  page.on('request', (request) => {
    if (request.url().endsWith('/v1/uploads') && request.method() === 'POST') uploadRequests.push(request.postData() ?? '');
  });
  page.on('response', async (response) => {
    const request = response.request();
    if (request.url().startsWith(dev.ready.s3.endpoint)) {
      s3Uploads.push({
        method: request.method(),
        url: request.url(),
        contentType: (await request.allHeaders())['content-type'],
        status: response.status(),
      });
    }
    if (request.url().endsWith('/v1/uploads') && response.status() === 201) {
      const body = z.looseObject({ filename: z.string() }).parse(JSON.parse(request.postData() ?? '{}'));
      imageIds.set(body.filename, Created.parse(await response.json()).imageId);
    }
  });
}, 240_000);

afterAll(async () => {
  await context?.close();
  await dev?.stop();
  removePage();
  if (profileDir !== undefined) rmSync(profileDir, { recursive: true, force: true });
});

describe('upload page in Chromium', { timeout: 180_000 }, () => {
  it('serves the page from the API with the limits from /v1/config, signed out until the provider signs alice in', async () => {
    const response = await page.goto(dev.ready.api);
    // The page may talk to the provider (discovery, token endpoint): its origin is in connect-src.
    expect(response?.headers()['content-security-policy']).toMatch(new RegExp(`connect-src [^;]*${new URL(dev.ready.auth.issuer).origin}`));
    await page.locator('body[data-ready="true"][data-auth="signed-out"]').waitFor();
    expect(await page.title()).toMatch(/blipline/);
    // Signed out: a Sign in button, and the drop zone is disabled with a hint saying why.
    expect(await page.getByRole('button', { name: 'Sign in', exact: true }).isVisible()).toBe(true);
    expect(await page.locator('#drop-zone').getAttribute('aria-disabled')).toBe('true');
    expect(await page.getByText('Sign in to upload images').isVisible()).toBe(true);
    await screenshot('00-signed-out.png');

    expect(await signIn(page)).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    expect(await page.locator('#drop-zone').getAttribute('aria-disabled')).toBeNull();
    expect(await page.getByText('Sign in to upload images').isVisible()).toBe(false);
    await expect.poll(() => page.locator('#drop-hint').textContent()).toContain('up to 250 KB each');
    expect(await page.getByLabel('Caption prompt (optional)').isVisible()).toBe(true);
    await screenshot('01-empty.png');
  });

  it('uploads two images picked with the keyboard, shows byte progress to 100% and both captions', async () => {
    const files = ['photo_chelsea.jpg', 'photo_astronaut.jpg'];
    // The drop zone is a keyboard-operable button: Tab to it, press Enter, the file chooser opens.
    await page.locator('body').focus();
    let focused = '';
    for (let i = 0; i < 6 && focused !== 'drop-zone'; i += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate('document.activeElement?.id ?? ""');
    }
    expect(focused).toBe('drop-zone');
    const opened = new Promise<FileChooser>((resolve) => chooserWaiters.push(resolve));
    await page.keyboard.press('Enter');
    const chooser = await opened;
    expect(chooser.isMultiple()).toBe(true);
    await chooser.setFiles(files.map((name) => fixturePath('images', name)));

    for (const name of files) {
      const result = await settle(name);
      expect(result, name).toEqual({ phase: 'done', status: 'Done' });
    }
    await screenshot('02-captions.png');

    const history = await progressHistory();
    for (const name of files) {
      const item = card(name);
      expect(await item.getByRole('progressbar').getAttribute('value')).toBe('100');
      expect(await item.locator('.progress-label').textContent()).toMatch(/^100% · /);
      const values = history[name] ?? [];
      expect(values.at(-1), `${name} progress ${values.join(',')}`).toBe(100);
      expect([...values].sort((a, b) => a - b)).toEqual(values);

      // The caption shown is the record's caption, offered as alt text (text box and thumbnail alt).
      const imageId = imageIds.get(name);
      expect(imageId, name).toBeDefined();
      const record = await apiGet(ImageRecord, `/v1/images/${imageId}`);
      expect(record.status).toBe('done');
      const caption = await item.getByLabel('Caption (alt text)').inputValue();
      expect(caption).toBe(record.caption);
      expect(caption.length).toBeGreaterThan(0);
      expect(await item.locator('img.thumb').getAttribute('alt')).toBe(caption);
      // The owner's record carries no model timings (operator only), so the page says the time from upload.
      const meta = (await item.locator('.meta').textContent()) ?? '';
      expect(meta.startsWith(`by ${modelLabel(record.model ?? '?')} · `), meta).toBe(true);
      expect(meta).toMatch(/ from upload$/);
    }

    // Browser-direct uploads: one presigned PUT per image, straight to S3, with the file's type.
    const puts = s3Uploads.filter((upload) => upload.method === 'PUT' || upload.method === 'POST');
    expect(puts.length).toBeGreaterThanOrEqual(2);
    for (const upload of puts.slice(0, 2)) {
      expect(upload.status).toBeLessThan(300);
      if (upload.method === 'PUT') expect(upload.contentType).toBe('image/jpeg');
    }
  });

  it('shows the real byte progress of a slow upload', async () => {
    // Throttle the browser's uploads (DevTools network conditions) so the transfer takes about a second.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 40_000,
    });
    await page.locator('#file-input').setInputFiles(fixturePath('images', 'gray_200x200.png'));
    const item = card('gray_200x200.png');
    await item.locator('xpath=.').and(page.locator('[data-phase="uploading"]')).waitFor();
    await expect.poll(async () => Number(await item.getByRole('progressbar').getAttribute('value')), { timeout: 30_000 }).toBeGreaterThan(0);
    await screenshot('03-uploading.png');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();
    expect(await settle('gray_200x200.png')).toEqual({ phase: 'done', status: 'Done' });
    const values = (await progressHistory())['gray_200x200.png'] ?? [];
    expect(values.some((value) => value > 0 && value < 100), values.join(',')).toBe(true);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
    expect(values.at(-1)).toBe(100);
  });

  it('asks a question about an image and shows the answer', async () => {
    const item = card('photo_chelsea.jpg');
    const input = item.getByLabel('Ask a question about this image');
    await input.fill('what animal is this?');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/questions') && r.request().method() === 'POST'),
      input.press('Enter'),
    ]);
    expect(response.status()).toBe(202);
    const { questionId } = z.looseObject({ questionId: z.string() }).parse(await response.json());
    const qa = item.locator('li.qa');
    await item.locator('li.qa:is([data-phase="answered"], [data-phase="failed"])').waitFor({ timeout: 90_000 });
    expect(await qa.getAttribute('data-phase'), (await qa.textContent()) ?? '').toBe('answered');
    const record = await apiGet(QuestionRecord, `/v1/images/${imageIds.get('photo_chelsea.jpg')}/questions/${questionId}`);
    expect(record.status).toBe('done');
    expect(await qa.locator('.question').textContent()).toBe('what animal is this?');
    const shown = (await qa.locator('.answer').textContent()) ?? '';
    expect(record.answer).toBeDefined();
    expect(shown).toBe(record.answer === '' ? '(empty answer)' : record.answer);
    await screenshot('04-answer.png');
  });

  it('explains a text file renamed to .png and an image over the size limit, without uploading them', async () => {
    const before = uploadRequests.length;
    await page.locator('#file-input').setInputFiles([
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('shopping list\n- milk\n- eggs\n'.repeat(10)) },
      {
        name: 'gradient_640x480.png',
        mimeType: 'image/png',
        buffer: readFileSync(fixturePath('images', 'gradient_640x480.png')),
      },
    ]);
    const text = await settle('notes.png');
    expect(text.phase).toBe('upload_error');
    expect(text.status).toMatch(/^Not an image: /);
    const large = await settle('gradient_640x480.png');
    expect(large.phase).toBe('upload_error');
    expect(large.status).toBe('Too large (769 KB): the limit is 250 KB.');
    // Neither can be fixed by trying again, so neither offers a retry; nothing was sent to the API.
    expect(await card('notes.png').getByRole('button', { name: 'Retry' }).isVisible()).toBe(false);
    expect(await card('gradient_640x480.png').getByRole('button', { name: 'Retry' }).isVisible()).toBe(false);
    expect(uploadRequests.length).toBe(before);
    await screenshot('05-errors.png');
  });

  it('shows the caption failure reason for a file that looks like an image but is not one', async () => {
    // A PNG signature followed by garbage passes the browser's check; the worker cannot decode it.
    const png = readFileSync(fixturePath('images', 'gray_200x200.png'));
    const broken = Buffer.concat([png.subarray(0, 64), Buffer.alloc(4000, 0x41)]);
    await page.locator('#file-input').setInputFiles([{ name: 'broken.png', mimeType: 'image/png', buffer: broken }]);
    const result = await settle('broken.png');
    expect(result.phase).toBe('failed');
    const record = await apiGet(ImageRecord, `/v1/images/${imageIds.get('broken.png')}`);
    expect(record.status).toBe('failed');
    expect(record.error?.message).toBeDefined();
    expect(result.status).toContain(`Caption failed`);
    expect(result.status).toContain(record.error?.message ?? '?');
  });

  it('says the API is unreachable and recovers with Retry', async () => {
    await page.route('**/v1/uploads', (route) => route.abort('connectionrefused'));
    await page.locator('#file-input').setInputFiles(fixturePath('images', 'photo_coffee.jpg'));
    const failed = await settle('photo_coffee.jpg');
    expect(failed.phase).toBe('upload_error');
    expect(failed.status).toMatch(/^API unreachable/);
    await page.unroute('**/v1/uploads');
    await card('photo_coffee.jpg').getByRole('button', { name: 'Retry' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.getAttribute("aria-labelledby") ?? ""')).toMatch(/^card-\d+-name$/);
    expect(await settle('photo_coffee.jpg')).toEqual({ phase: 'done', status: 'Done' });
  });

  it('takes a dropped image with the caption prompt', async () => {
    await page.getByLabel('Caption prompt (optional)').fill('a picture of');
    const base64 = readFileSync(fixturePath('images', 'photo_rocket.jpg')).toString('base64');
    const dataTransfer = await page.evaluateHandle(`(() => {
      const bytes = Uint8Array.from(atob('${base64}'), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'photo_rocket.jpg', { type: 'image/jpeg' }));
      return transfer;
    })()`);
    await page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    expect(await settle('photo_rocket.jpg')).toEqual({ phase: 'done', status: 'Done' });
    const record = await apiGet(ImageRecord, `/v1/images/${imageIds.get('photo_rocket.jpg')}`);
    expect(record.prompt).toBe('a picture of');
    expect(await card('photo_rocket.jpg').getByLabel('Caption (alt text)').inputValue()).toBe(record.caption);
    await page.getByLabel('Caption prompt (optional)').fill('');
  });

  it('uploads through a presigned POST form too (the other shape of the upload contract)', async () => {
    // The API hands out presigned PUTs; here the test swaps in a presigned POST for the same object key
    // (made with the local bucket's credentials) to drive the page's form-upload branch for real.
    const s3 = new S3Client({
      endpoint: dev.ready.s3.endpoint,
      region: dev.ready.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: String(dev.ready.s3['accessKeyId']), secretAccessKey: String(dev.ready.s3['secretAccessKey']) },
    });
    await page.route('**/v1/uploads', async (route) => {
      const response = await route.fetch();
      const created = Created.parse(await response.json());
      const post = await createPresignedPost(s3, {
        Bucket: dev.ready.s3.bucket,
        Key: `uploads/${created.imageId}`,
        Conditions: [['content-length-range', 1, MAX_UPLOAD_BYTES], ['eq', '$Content-Type', 'image/png']],
        Fields: { 'Content-Type': 'image/png' },
        Expires: 300,
      });
      await route.fulfill({ response, json: { ...created, upload: { method: 'POST', url: post.url, fields: post.fields } } });
    });
    try {
      await page.locator('#file-input').setInputFiles(fixturePath('images', 'alpha_300x500.png'));
      expect(await settle('alpha_300x500.png')).toEqual({ phase: 'done', status: 'Done' });
    } finally {
      await page.unroute('**/v1/uploads');
      s3.destroy();
    }
    const post = s3Uploads.find((upload) => upload.method === 'POST');
    expect(post?.status).toBeLessThan(300);
    expect(post?.contentType).toMatch(/^multipart\/form-data; boundary=/);
    const record = await apiGet(ImageRecord, `/v1/images/${imageIds.get('alpha_300x500.png')}`);
    expect(record.status).toBe('done');
    expect(await card('alpha_300x500.png').getByLabel('Caption (alt text)').inputValue()).toBe(record.caption);
  });

  it('works with a /v1/config that names no limits: no prompt field, and the API itself refuses an oversize file', async () => {
    // A new tab keeps its own session storage, so it signs in again: through the provider's session, no login page.
    const fresh = await context.newPage();
    try {
      await fresh.route('**/v1/config', async (route) => {
        const response = await route.fetch();
        const { auth } = z.looseObject({ auth: z.unknown() }).parse(await response.json());
        await route.fulfill({ response, json: { auth } });
      });
      await fresh.goto(dev.ready.api);
      expect(await signIn(fresh)).toBe(false);
      expect(await fresh.getByLabel('Caption prompt (optional)').isVisible()).toBe(false);
      const [response] = await Promise.all([
        fresh.waitForResponse((r) => r.url().endsWith('/v1/uploads')),
        fresh.locator('#file-input').setInputFiles(fixturePath('images', 'wide_1200x100.png')),
      ]);
      expect(response.status()).toBe(413);
      const item = fresh.getByRole('article', { name: 'wide_1200x100.png', exact: true });
      await item.locator('.status.error').waitFor();
      expect(await item.getByRole('status').first().textContent()).toBe('Too large (361 KB).');
      expect(await item.getByRole('button', { name: 'Retry' }).isVisible()).toBe(false);
    } finally {
      await fresh.close();
    }
  });

  it('looks as its committed baselines in dark mode, wide and narrow (a real change of the page fails)', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot('06-dark.png');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot('07-narrow-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Compared: a fresh signed-in page without cards, so nothing in it changes from run to run.
    const fresh = await context.newPage();
    try {
      await fresh.emulateMedia({ colorScheme: 'dark', reducedMotion: 'reduce' });
      await fresh.setViewportSize({ width: 1280, height: 900 });
      await fresh.goto(dev.ready.api);
      await fresh.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
      if ((await fresh.locator('body').getAttribute('data-auth')) === 'signed-out') await signIn(fresh);
      await fresh.locator('body[data-ready="true"][data-auth="signed-in"]').waitFor({ timeout: 30_000 });
      const results = [await compareWithBaseline(fresh, 'dark-wide', artifacts)];
      await fresh.setViewportSize({ width: 390, height: 844 });
      results.push(await compareWithBaseline(fresh, 'dark-narrow', artifacts));
      for (const r of results) expect({ name: r.name, withinTolerance: r.diffRatio <= MAX_DIFF_RATIO }, `${r.name}: ${(r.diffRatio * 100).toFixed(3)}% of pixels differ`).toEqual({ name: r.name, withinTolerance: true });

      // The comparison can fail: the same page with one colour changed is far outside the tolerance.
      // (Through the CSSOM: the page's Content-Security-Policy refuses inline style sheets.)
      await fresh.evaluate("document.querySelector('header').style.setProperty('background', '#d00')");
      const changed = await compareWithBaseline(fresh, 'dark-narrow', path.join(artifacts, 'changed'), { mayUpdate: false });
      expect(changed.diffRatio).toBeGreaterThan(MAX_DIFF_RATIO * 10);
    } finally {
      await fresh.close();
    }
  });

  it('signs in, uploads, shows the caption, answers a question, deletes the image and signs out', async () => {
    const fresh = await context.newPage();
    try {
      await fresh.goto(dev.ready.api);
      expect(await signIn(fresh)).toBe(false);

      const name = 'tiny_7x5.png';
      const [created] = await Promise.all([
        fresh.waitForResponse((r) => r.url().endsWith('/v1/uploads') && r.request().method() === 'POST'),
        fresh.locator('#file-input').setInputFiles(fixturePath('images', name)),
      ]);
      expect(created.status()).toBe(201);
      expect(created.request().headers()['authorization']).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      const { imageId } = Created.parse(await created.json());
      expect(await settle(name, 90_000, fresh)).toEqual({ phase: 'done', status: 'Done' });
      const item = card(name, fresh);
      const record = await apiGet(ImageRecord, `/v1/images/${imageId}`);
      expect(await item.getByLabel('Caption (alt text)').inputValue()).toBe(record.caption);

      await item.getByLabel('Ask a question about this image').fill('what color is it?');
      await item.getByLabel('Ask a question about this image').press('Enter');
      const qa = item.locator('li.qa');
      await item.locator('li.qa:is([data-phase="answered"], [data-phase="failed"])').waitFor({ timeout: 90_000 });
      expect(await qa.getAttribute('data-phase'), (await qa.textContent()) ?? '').toBe('answered');
      await screenshot('08-signed-in.png', fresh);

      const [deleted] = await Promise.all([
        fresh.waitForResponse((r) => r.url().endsWith(`/v1/images/${imageId}`) && r.request().method() === 'DELETE'),
        item.getByRole('button', { name: 'Delete', exact: true }).click(),
      ]);
      expect(deleted.status()).toBe(204);
      await item.waitFor({ state: 'detached' });
      expect(await fresh.getByRole('article').count()).toBe(0);
      expect((await apiFetch(`/v1/images/${imageId}`)).status).toBe(404);

      // Sign out ends the provider's session (its own confirmation page), which sends the browser back signed out.
      await fresh.getByRole('button', { name: 'Sign out' }).click();
      await fresh.getByRole('button', { name: 'Yes, sign me out' }).click();
      await fresh.locator('body[data-ready="true"][data-auth="signed-out"]').waitFor({ timeout: 30_000 });
      expect(new URL(fresh.url()).search).toBe('');
      expect(await fresh.getByRole('button', { name: 'Sign in', exact: true }).isVisible()).toBe(true);
      expect(await fresh.locator('#account-user').isVisible()).toBe(false);
      // The provider's session is gone too: signing in shows its login page again.
      expect(await signIn(fresh)).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('signs in again when the API refuses the token (401)', async () => {
    const fresh = await context.newPage();
    try {
      await fresh.goto(dev.ready.api);
      expect(await signIn(fresh)).toBe(false);
      // The stored access token stops being one the API accepts (as when it expires or its key rotates).
      const storedUser = `oidc.user:${dev.ready.auth.issuer}:blipline-web`;
      const tokenOf = async (): Promise<string> =>
        z.object({ access_token: z.string() }).loose().parse(JSON.parse((await fresh.evaluate(`sessionStorage.getItem(${JSON.stringify(storedUser)})`)) as string)).access_token;
      const before = await tokenOf();
      await fresh.evaluate(`{
        const key = ${JSON.stringify(storedUser)};
        sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)), access_token: 'not-a-token' }));
      }`);
      const [refused, viaProvider] = await Promise.all([
        fresh.waitForResponse((r) => r.url().endsWith('/v1/uploads')),
        fresh.waitForResponse((r) => r.url().startsWith(`${dev.ready.auth.issuer}/auth`)),
        fresh.locator('#file-input').setInputFiles(fixturePath('images', 'tiny_7x5.png')),
      ]);
      expect(refused.status()).toBe(401);
      expect(viaProvider.status()).toBe(303);
      await fresh.waitForURL((url) => url.origin === new URL(dev.ready.api).origin && url.search === '');
      await fresh.locator('body[data-ready="true"][data-auth="signed-in"]').waitFor();
      const after = await tokenOf();
      expect(after).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(after).not.toBe(before);
    } finally {
      await fresh.close();
    }
  });

  it('ran every page under its Content-Security-Policy without a violation', async () => {
    expect(cspViolations).toEqual([]);
    // The watch sees what the policy refuses: an inline script added to the page is reported, and never runs.
    await page.evaluate(`{ const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.append(s); }`);
    await expect.poll(() => cspViolations.length).toBe(1);
    expect(await page.evaluate('window.__inline')).toBeUndefined();
  });
});

describe('upload page in anonymous mode', { timeout: 180_000 }, () => {
  let anonymous: DevStack;
  beforeAll(async () => {
    anonymous = await startDev(['--anonymous', ...devModels()], { BLIPLINE_WEB_DIR: webDir });
  }, 240_000);
  afterAll(async () => {
    await anonymous?.stop();
  });

  it('shows no sign-in and uploads as before', async () => {
    expect(anonymous.ready.auth.mode).toBe('anonymous');
    const fresh = await context.newPage();
    try {
      await fresh.goto(anonymous.ready.api);
      await fresh.locator('body[data-ready="true"][data-auth="anonymous"]').waitFor();
      expect(await fresh.locator('#account').isVisible()).toBe(false);
      expect(await fresh.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(0);
      const [created] = await Promise.all([
        fresh.waitForResponse((r) => r.url().endsWith('/v1/uploads') && r.request().method() === 'POST'),
        fresh.locator('#file-input').setInputFiles(fixturePath('images', 'photo_coffee.jpg')),
      ]);
      expect(created.status()).toBe(201);
      expect(created.request().headers()['authorization']).toBeUndefined();
      expect(await settle('photo_coffee.jpg', 90_000, fresh)).toEqual({ phase: 'done', status: 'Done' });
    } finally {
      await fresh.close();
    }
  });
});
