// Typed errors of the escalation decision: bad output tensors and bad budget settings.

/** An output tensor that cannot be scored: wrong datatype, rank, size or a non-finite value. */
export class ScoreInputError extends Error {
  override readonly name = 'ScoreInputError';
  readonly code = 'INVALID_SCORE_INPUT';
  /** The output tensor's name. */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`output ${field} ${problem}`);
    this.field = field;
  }
}

/** A budget or input size that is negative, not finite, or otherwise unusable. */
export class BudgetError extends Error {
  override readonly name = 'BudgetError';
  readonly code = 'INVALID_ESCALATION_BUDGET';
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field} ${problem}`);
    this.field = field;
  }
}
