/** Codes of the inputs placement refuses; the reconciler treats them as terminal, not retryable. */
export const PlacementErrorCode = {
  InvalidOptions: 'INVALID_PLACEMENT_OPTIONS',
  DuplicateNode: 'DUPLICATE_NODE',
} as const;
export type PlacementErrorCode = (typeof PlacementErrorCode)[keyof typeof PlacementErrorCode];

/** A plan input placement cannot work with, such as a negative deadline or two nodes with one name. */
export class PlacementInputError extends Error {
  override readonly name = 'PlacementInputError';
  readonly code: PlacementErrorCode;

  constructor(code: PlacementErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isPlacementInputError(err: unknown): err is PlacementInputError {
  return err instanceof PlacementInputError;
}
