/**
 * Failure reasons that describe the image file itself: the BLIP runtime's ImageInputError codes.
 * Sending the same bytes again cannot help. This module imports nothing, so the upload page
 * (services/web, bundled for the browser) shares it with the records schema.
 */
export const IMAGE_INPUT_REASONS = ['empty', 'not_an_image', 'unsupported_format', 'truncated', 'too_large', 'too_many_pixels', 'corrupt'] as const;
export type ImageInputReason = (typeof IMAGE_INPUT_REASONS)[number];
