import { describe, expect, it } from 'vitest';
import { MAX_VISIBILITY_SECONDS, retryDelaySeconds } from '../../services/worker/worker.js';

describe('retryDelaySeconds', () => {
  it('backs off visibility x 2^receiveCount: a 5-receive budget spans about half an hour at 60 s', () => {
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(n, 60, 1))).toEqual([120, 240, 480, 960]);
    expect([1, 2, 3, 4].reduce((sum, n) => sum + retryDelaySeconds(n, 60, 1), 0)).toBe(1_800);
  });

  it('never asks for more than is left of the 12 h SQS allows from the receive', () => {
    expect(retryDelaySeconds(30, 60, 0)).toBe(MAX_VISIBILITY_SECONDS - 60);
    expect(retryDelaySeconds(10, 3_600, 40_000)).toBe(MAX_VISIBILITY_SECONDS - 40_000 - 60);
    expect(retryDelaySeconds(3, 60, MAX_VISIBILITY_SECONDS)).toBe(0);
  });
});
