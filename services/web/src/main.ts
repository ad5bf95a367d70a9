/** The page: wires sign-in, the drop zone, the prompt field and the cards to their controllers. */
import { ApiClient } from './api/client.js';
import type { ApiConfig, AuthSettings } from './api/schemas.js';
import {
  displayName,
  isSignInCallback,
  isSignOutCallback,
  PageAuth,
  userManagerSettings,
  withoutCallbackParams,
} from './auth/session.js';
import { CardController, type NamedBlob, type UploadSettings } from './controller.js';
import { formatBytes } from './format.js';
import { sniffBlob } from './sniff.js';
import { CardView } from './ui/card-view.js';
import { transfer } from './upload/transfer.js';

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** Set when the API wants signed-in callers (GET /v1/config `auth.mode` 'oidc'). */
let auth: PageAuth | null = null;
/** Uploads need a signed-in user in OIDC mode; in anonymous mode anyone may upload. */
let canUpload = false;

const api = new ApiClient({
  token: () => auth?.accessToken() ?? null,
  // The token expired or was refused: sign in again (the provider's session usually makes it a round trip).
  onUnauthorized: () => void auth?.signIn().catch((error: unknown) => showBanner(signInFailure(error))),
});
const dropZone = byId<HTMLDivElement>('drop-zone');
const fileInput = byId<HTMLInputElement>('file-input');
const promptField = byId<HTMLDivElement>('prompt-field');
const promptInput = byId<HTMLInputElement>('prompt');
const cards = byId<HTMLDivElement>('cards');
const banner = byId<HTMLDivElement>('banner');
const bannerText = byId<HTMLSpanElement>('banner-text');
const bannerRetry = byId<HTMLButtonElement>('banner-retry');
const limitHint = byId<HTMLSpanElement>('limit-hint');
const account = byId<HTMLElement>('account');
const accountUser = byId<HTMLSpanElement>('account-user');
const accountName = byId<HTMLElement>('account-name');
const signInButton = byId<HTMLButtonElement>('sign-in');
const signOutButton = byId<HTMLButtonElement>('sign-out');
const signInHint = byId<HTMLParagraphElement>('sign-in-hint');

let settings: UploadSettings = { maxUploadBytes: null, prompt: false };
let questionsEnabled = true;
let nextKey = 0;

function showBanner(text: string): void {
  bannerText.textContent = text;
  banner.hidden = false;
}

function signInFailure(error: unknown, action: 'Sign-in' | 'Sign-out' = 'Sign-in'): string {
  return `${action} failed: ${error instanceof Error ? error.message : String(error)}. Try again.`;
}

function setUploadsAllowed(allowed: boolean): void {
  canUpload = allowed;
  fileInput.disabled = !allowed;
  if (allowed) dropZone.removeAttribute('aria-disabled');
  else dropZone.setAttribute('aria-disabled', 'true');
  dropZone.setAttribute('aria-describedby', allowed ? 'drop-hint' : 'drop-hint sign-in-hint');
  signInHint.hidden = allowed;
}

/** Shows who is signed in (or the Sign in button) and allows uploads only when someone is. */
function renderAccount(name: string | null): void {
  account.hidden = false;
  accountUser.hidden = name === null;
  accountName.textContent = name ?? '';
  signOutButton.hidden = name === null;
  signInButton.hidden = name !== null;
  document.body.dataset['auth'] = name === null ? 'signed-out' : 'signed-in';
  setUploadsAllowed(name !== null);
}

/**
 * Sets up sign-in as GET /v1/config describes it: nothing to do in anonymous mode; otherwise finishes
 * a sign-in or sign-out the provider just redirected back from, cleans the URL, and shows the user.
 */
async function setUpAuth(settings: AuthSettings | undefined): Promise<void> {
  if (settings === undefined || settings.mode === 'anonymous') {
    account.hidden = true;
    document.body.dataset['auth'] = 'anonymous';
    setUploadsAllowed(true);
    return;
  }
  if (settings.clientId === null) {
    showBanner('Sign-in is not set up: the API asks for a signed-in user but names no web client.');
    renderAccount(null);
    signInButton.disabled = true;
    return;
  }
  auth ??= new PageAuth(userManagerSettings({ ...settings, clientId: settings.clientId }, location.origin, sessionStorage));
  const here = new URL(location.href);
  if (isSignInCallback(here) || isSignOutCallback(here)) {
    try {
      if (isSignInCallback(here)) await auth.completeSignIn(here.href);
      else await auth.completeSignOut(here.href);
    } catch (error) {
      showBanner(signInFailure(error));
    } finally {
      history.replaceState(history.state, '', withoutCallbackParams(here));
    }
  }
  const user = await auth.user();
  renderAccount(user === null ? null : displayName(user.profile));
}

async function loadConfig(): Promise<void> {
  let config: ApiConfig | null;
  try {
    config = await api.config();
  } catch {
    showBanner('API unreachable: the service did not answer. Uploads will fail until it is back.');
    // Files added now get a card that says so (and offers Retry) rather than being ignored.
    setUploadsAllowed(true);
    document.body.dataset['ready'] = 'error';
    return;
  }
  banner.hidden = true;
  // No /v1/config: the API still enforces its limit (413) and the page leaves the prompt out.
  settings = { maxUploadBytes: config?.maxUploadBytes ?? null, prompt: config?.prompt === true };
  questionsEnabled = config?.questions !== false;
  promptField.hidden = !settings.prompt;
  limitHint.textContent = settings.maxUploadBytes !== null ? `, up to ${formatBytes(settings.maxUploadBytes)} each` : '';
  await setUpAuth(config?.auth);
  document.body.dataset['ready'] = 'true';
}
bannerRetry.addEventListener('click', () => void loadConfig());
signInButton.addEventListener('click', () => void auth?.signIn().catch((error: unknown) => showBanner(signInFailure(error))));
signOutButton.addEventListener('click', () => void auth?.signOut().catch((error: unknown) => showBanner(signInFailure(error, 'Sign-out'))));

function addFiles(files: Iterable<File>): void {
  if (!canUpload) return;
  const prompt = settings.prompt ? promptInput.value : null;
  for (const file of files) {
    nextKey += 1;
    const key = String(nextKey);
    const named: NamedBlob = file.name !== '' ? file : new File([file], `pasted-image-${key}`, { type: file.type });
    let view: CardView | null = null;
    const controller = new CardController(
      key,
      named,
      prompt,
      { api, transfer, sniff: sniffBlob, settings: () => settings },
      (state) => view?.render(state),
    );
    view = new CardView(named, controller.state, questionsEnabled, {
      retry: () => controller.retry(),
      ask: (question) => void controller.ask(question),
      remove: () => {
        controller.dispose();
        view?.dispose();
        dropZone.focus();
      },
      delete: () =>
        void controller.delete().then((deleted) => {
          if (!deleted) return;
          view?.dispose();
          dropZone.focus();
        }),
    });
    cards.append(view.root);
    void controller.start();
  }
}

fileInput.addEventListener('change', () => {
  if (fileInput.files !== null) addFiles(Array.from(fileInput.files));
  fileInput.value = '';
});

dropZone.addEventListener('click', () => {
  if (canUpload) fileInput.click();
});
dropZone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    if (canUpload) fileInput.click();
  }
});

let dragDepth = 0;
dropZone.addEventListener('dragenter', (event) => {
  event.preventDefault();
  dragDepth += 1;
  dropZone.classList.add('dragging');
});
dropZone.addEventListener('dragover', (event) => {
  event.preventDefault();
  if (event.dataTransfer !== null) event.dataTransfer.dropEffect = 'copy';
});
dropZone.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) dropZone.classList.remove('dragging');
});
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  dropZone.classList.remove('dragging');
  if (event.dataTransfer !== null) addFiles(Array.from(event.dataTransfer.files));
});
// A file dropped beside the zone would otherwise make the browser navigate away to it.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());

document.addEventListener('paste', (event) => {
  const files = Array.from(event.clipboardData?.files ?? []);
  if (files.length > 0) addFiles(files);
});

void loadConfig();
