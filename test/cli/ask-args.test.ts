import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRIEVAL_MODEL, DEFAULT_VQA_MODEL, parseAskArgs, parseScoreArgs, TaskArgsError } from '../../services/cli/task-args.js';

// Argument handling of `blipline ask` and `blipline score` against the DESIGN.md contract.

describe('blipline ask arguments', () => {
  it('takes images, a question and the optional flags', () => {
    expect(parseAskArgs(['a.jpg', 'b.png', '--question', 'what is it?', '--beams', '3', '--max-new-tokens', '5', '--json'])).toEqual({
      images: [
        { kind: 'file', path: 'a.jpg' },
        { kind: 'file', path: 'b.png' },
      ],
      question: 'what is it?',
      model: DEFAULT_VQA_MODEL,
      beams: 3,
      maxNewTokens: 5,
      json: true,
    });
  });

  it('replaces IMAGE arguments with --pixel-values files', () => {
    const args = parseAskArgs(['--pixel-values', 'x.f32', '--pixel-values', 'y.f32', '--question', 'q', '--model', 'dir']);
    expect(args.images).toEqual([
      { kind: 'pixels', path: 'x.f32' },
      { kind: 'pixels', path: 'y.f32' },
    ]);
    expect(args.model).toBe('dir');
    expect(args.json).toBe(false);
  });

  it.each([
    [['a.jpg'], '--question is required'],
    [['a.jpg', '--question', '  '], 'the question is empty'],
    [['--question', 'q'], 'no image given'],
    [['a.jpg', '--pixel-values', 'x.f32', '--question', 'q'], '--pixel-values replaces the IMAGE arguments'],
    [['a.jpg', '--question', 'q', '--beams', '0'], '--beams must be at least 1'],
    [['a.jpg', '--question', 'q', '--beams', 'two'], '--beams must be a positive integer'],
    [['a.jpg', '--question', 'q', '--max-new-tokens', '1.5'], '--max-new-tokens must be a positive integer'],
    [['a.jpg', '--question', 'q', '--temperature', '1'], "Unknown option '--temperature'"],
  ])('%j fails with one line: %s', (argv, message) => {
    expect(() => parseAskArgs(argv)).toThrow(TaskArgsError);
    expect(() => parseAskArgs(argv)).toThrow(message);
    try {
      parseAskArgs(argv);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('blipline score arguments', () => {
  it('takes one image and repeated --text', () => {
    expect(parseScoreArgs(['a.jpg', '--text', 'a dog', '--text', 'a cat', '--json'])).toEqual({
      image: { kind: 'file', path: 'a.jpg' },
      texts: ['a dog', 'a cat'],
      model: DEFAULT_RETRIEVAL_MODEL,
      json: true,
    });
    expect(parseScoreArgs(['--pixel-values', 'x.f32', '--text', 't', '--model', 'm']).image).toEqual({ kind: 'pixels', path: 'x.f32' });
  });

  it.each([
    [['a.jpg'], '--text is required'],
    [['a.jpg', 'b.jpg', '--text', 't'], 'score takes exactly one image, got 2'],
    [['--text', 't'], 'no image given'],
  ])('%j fails with: %s', (argv, message) => {
    expect(() => parseScoreArgs(argv)).toThrow(message);
  });
});
