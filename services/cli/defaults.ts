/** The Hugging Face Hub ids the CLI uses when neither a flag nor the environment names a model. */
export const DEFAULT_CAPTION_MODEL = 'Salesforce/blip-image-captioning-base';
export const DEFAULT_VQA_MODEL = 'Salesforce/blip-vqa-base';
export const DEFAULT_RETRIEVAL_MODEL = 'Salesforce/blip-itm-base-coco';
