/**
 * One card's DOM: built once, then `render(state)` updates it in place (so focus, selection in the
 * alt-text box and screen-reader position survive status updates).
 */
import { canAsk, canDelete, canRetry, type CardState, type QuestionState, uploadFraction } from '../state/card.js';
import { captionMeta, progressText, questionStatusText, statusText } from '../state/messages.js';
import { el, setText } from './dom.js';

export interface CardActions {
  retry(): void;
  /** Takes the card off the page (the image stays at the API). */
  remove(): void;
  /** Deletes the image at the API (the page then removes the card). */
  delete(): void;
  ask(question: string): void;
}

export class CardView {
  readonly root: HTMLElement;
  private readonly thumb: HTMLImageElement;
  private readonly progress: HTMLProgressElement;
  private readonly progressLabel: HTMLElement;
  private readonly progressRow: HTMLElement;
  private readonly status: HTMLElement;
  private readonly result: HTMLElement;
  private readonly altText: HTMLTextAreaElement;
  private readonly meta: HTMLElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly retryButton: HTMLButtonElement;
  private readonly deleteButton: HTMLButtonElement;
  private readonly askForm: HTMLFormElement;
  private readonly askInput: HTMLInputElement;
  private readonly answers: HTMLOListElement;
  private readonly answerNodes = new Map<string, { item: HTMLLIElement; answer: HTMLElement }>();
  private readonly objectUrl: string;

  constructor(file: Blob, state: CardState, questionsEnabled: boolean, actions: CardActions) {
    const id = `card-${state.key}`;
    this.objectUrl = URL.createObjectURL(file);
    this.thumb = el('img', { class: 'thumb', alt: '', src: this.objectUrl, decoding: 'async' });
    const thumbBox = el('div', { class: 'thumb-box' }, this.thumb);
    this.thumb.addEventListener('error', () => {
      thumbBox.classList.add('no-preview');
      this.thumb.hidden = true;
    });

    const name = el('h2', { class: 'name', id: `${id}-name`, title: state.file.name }, state.file.name);
    const removeButton = el(
      'button',
      { type: 'button', class: 'icon-button remove', 'aria-label': `Remove ${state.file.name}` },
      '×',
    );
    removeButton.addEventListener('click', () => actions.remove());

    this.progress = el('progress', { max: '100', value: '0', id: `${id}-progress`, 'aria-label': `Upload progress of ${state.file.name}` });
    this.progressLabel = el('span', { class: 'progress-label' });
    this.progressRow = el('div', { class: 'progress-row' }, this.progress, this.progressLabel);
    this.status = el('p', { class: 'status', role: 'status', id: `${id}-status` });

    this.altText = el('textarea', { id: `${id}-alt`, class: 'alt-text', readonly: true, rows: '2' });
    this.meta = el('p', { class: 'meta' });
    this.copyButton = el('button', { type: 'button', class: 'button secondary small copy' }, 'Copy alt text');
    this.copyButton.addEventListener('click', () => void this.copy());
    this.result = el(
      'div',
      { class: 'result', hidden: true },
      el('div', { class: 'result-head' }, el('label', { for: `${id}-alt` }, 'Caption (alt text)'), this.copyButton),
      this.altText,
      this.meta,
    );

    this.retryButton = el('button', { type: 'button', class: 'button retry', hidden: true }, 'Retry');
    this.retryButton.addEventListener('click', () => {
      actions.retry();
      // The button hides once the retry starts: keep keyboard focus on the card, not on the page top.
      this.root.focus();
    });

    this.deleteButton = el(
      'button',
      { type: 'button', class: 'button secondary small delete', hidden: true, title: 'Delete the image, its caption and answers from the service' },
      'Delete',
    );
    this.deleteButton.addEventListener('click', () => actions.delete());

    this.askInput = el('input', {
      id: `${id}-question`,
      name: 'question',
      type: 'text',
      required: true,
      maxlength: '200',
      autocomplete: 'off',
      placeholder: 'What is in the picture?',
    });
    this.askForm = el(
      'form',
      { class: 'ask', hidden: true },
      el('label', { for: `${id}-question` }, 'Ask a question about this image'),
      el('div', { class: 'ask-row' }, this.askInput, el('button', { type: 'submit', class: 'button' }, 'Ask')),
    );
    this.askForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const question = this.askInput.value.trim();
      if (question === '') return;
      actions.ask(question);
      this.askInput.value = '';
    });
    if (!questionsEnabled) this.askForm.dataset['disabled'] = 'true';
    this.answers = el('ol', { class: 'answers', 'aria-label': `Questions about ${state.file.name}` });

    this.root = el(
      'article',
      { class: 'card', id, tabindex: '-1', 'aria-labelledby': `${id}-name`, 'data-phase': state.phase.tag },
      thumbBox,
      el(
        'div',
        { class: 'card-body' },
        el('div', { class: 'card-head' }, name, removeButton),
        this.progressRow,
        this.status,
        this.retryButton,
        this.result,
        this.askForm,
        this.answers,
        this.deleteButton,
      ),
    );
    this.render(state);
  }

  render(state: CardState): void {
    const { phase } = state;
    this.root.dataset['phase'] = phase.tag;

    const fraction = uploadFraction(state);
    this.progressRow.hidden = fraction === null;
    const percent = fraction === null ? 0 : Math.floor(fraction * 100);
    if (this.progress.value !== percent) this.progress.value = percent;
    setText(this.progressLabel, progressText(state));

    setText(this.status, statusText(state));
    const isError = phase.tag === 'failed' || phase.tag === 'upload_error' || state.deletion.tag === 'failed';
    this.status.classList.toggle('error', isError);
    this.status.classList.toggle('busy', phase.tag === 'requesting' || phase.tag === 'uploading' || phase.tag === 'queued' || phase.tag === 'processing');

    this.retryButton.hidden = !canRetry(state);
    this.deleteButton.hidden = !canDelete(state) && state.deletion.tag !== 'deleting';
    this.deleteButton.disabled = state.deletion.tag === 'deleting';

    if (phase.tag === 'done') {
      this.result.hidden = false;
      if (this.altText.value !== phase.caption) this.altText.value = phase.caption;
      this.thumb.alt = phase.caption;
      setText(this.meta, captionMeta(phase));
      if (phase.model !== null) this.meta.title = phase.model;
    } else {
      this.result.hidden = true;
      this.thumb.alt = '';
    }

    this.askForm.hidden = !canAsk(state) || this.askForm.dataset['disabled'] === 'true';
    for (const question of state.questions) this.renderQuestion(question);
  }

  private renderQuestion(question: QuestionState): void {
    let nodes = this.answerNodes.get(question.key);
    if (nodes === undefined) {
      const answer = el('span', { class: 'answer', role: 'status' });
      const item = el('li', { class: 'qa' }, el('span', { class: 'question' }, question.question), answer);
      this.answers.append(item);
      nodes = { item, answer };
      this.answerNodes.set(question.key, nodes);
    }
    nodes.item.dataset['phase'] = question.phase.tag;
    setText(nodes.answer, questionStatusText(question));
  }

  private async copy(): Promise<void> {
    const text = this.altText.value;
    try {
      await navigator.clipboard.writeText(text);
      this.flashCopy('Copied');
    } catch {
      // Clipboard access refused (permissions, insecure origin): select it for Ctrl+C instead.
      this.altText.focus();
      this.altText.select();
      this.flashCopy('Selected: press Ctrl+C');
    }
  }

  private flashCopy(label: string): void {
    setText(this.copyButton, label);
    setTimeout(() => setText(this.copyButton, 'Copy alt text'), 2000);
  }

  dispose(): void {
    URL.revokeObjectURL(this.objectUrl);
    this.root.remove();
  }
}
