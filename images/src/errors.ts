// Typed errors of the image build: a code to branch on and a message naming what was wrong.
export type ImageErrorCode =
  | 'TAR_PATH'
  | 'TAR_FIELD'
  | 'TAR_DUPLICATE'
  | 'TAR_CORRUPT'
  | 'DEB_DOWNLOAD'
  | 'DEB_EXTRACT'
  | 'INPUT_MISSING'
  | 'SPEC_INVALID'
  | 'CONTAINERFILE';

export class ImageError extends Error {
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.name = 'ImageError';
    this.code = code;
  }
}

export const isImageError = (err: unknown): err is ImageError => err instanceof ImageError;
