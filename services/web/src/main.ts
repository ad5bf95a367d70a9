/** The page: wires the drop zone, the prompt field and the cards to their controllers. */
import { ApiClient } from './api/client.js';
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

const api = new ApiClient();
const dropZone = byId<HTMLDivElement>('drop-zone');
const fileInput = byId<HTMLInputElement>('file-input');
const promptField = byId<HTMLDivElement>('prompt-field');
const promptInput = byId<HTMLInputElement>('prompt');
const cards = byId<HTMLDivElement>('cards');
const banner = byId<HTMLDivElement>('banner');
const bannerText = byId<HTMLSpanElement>('banner-text');
const bannerRetry = byId<HTMLButtonElement>('banner-retry');
const limitHint = byId<HTMLSpanElement>('limit-hint');

let settings: UploadSettings = { maxUploadBytes: null, prompt: false };
let questionsEnabled = true;
let nextKey = 0;

async function loadConfig(): Promise<void> {
  try {
    const config = await api.config();
    banner.hidden = true;
    // No /v1/config: the API still enforces its limit (413) and the page leaves the prompt out.
    settings = { maxUploadBytes: config?.maxUploadBytes ?? null, prompt: config?.prompt === true };
    questionsEnabled = config?.questions !== false;
    promptField.hidden = !settings.prompt;
    limitHint.textContent = settings.maxUploadBytes !== null ? `, up to ${formatBytes(settings.maxUploadBytes)} each` : '';
    document.body.dataset['ready'] = 'true';
  } catch {
    bannerText.textContent = 'API unreachable: the service did not answer. Uploads will fail until it is back.';
    banner.hidden = false;
    document.body.dataset['ready'] = 'error';
  }
}
bannerRetry.addEventListener('click', () => void loadConfig());

function addFiles(files: Iterable<File>): void {
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
    });
    cards.append(view.root);
    void controller.start();
  }
}

fileInput.addEventListener('change', () => {
  if (fileInput.files !== null) addFiles(Array.from(fileInput.files));
  fileInput.value = '';
});

dropZone.addEventListener('click', () => fileInput.click());
dropZone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    fileInput.click();
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
