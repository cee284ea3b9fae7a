export { COMBINED_FEATURES, combinedFeatures, escalationGain, fitCombined, type CombinedSignal, type FitOptions } from './combine.ts';
export { classificationScores, ctcScores, outputView, type CtcScore, type OutputView, type Score } from './score.ts';
export {
  BURST_SECONDS,
  decide,
  fullBucket,
  isHard,
  ratesOn,
  refill,
  type BucketState,
  type BudgetLimits,
  type DecideInput,
  type Decision,
  type DecisionReason,
  type LinkCost,
} from './decide.ts';
export { BudgetError, ScoreInputError } from './errors.ts';
export { answerKey, answerScore, answersDiffer, scorerFor, type ScorerKind } from './task.ts';
export { BACKGROUND_ESCALATION_WAIT_MS, DEFAULT_ESCALATION_WAIT_MS, MIN_UPWARD_DEADLINE_MS, replyMarginMs, upwardTiming, type UpwardTiming } from './deadline.ts';
export {
  Escalator,
  UpwardError,
  type Answer,
  type AnswerOptions,
  type DeploymentRef,
  type EdgeModel,
  type EscalationGrant,
  type EscalationMark,
  type EscalatorOptions,
  type Upward,
  type UpwardFailure,
  type UpwardReply,
} from './escalator.ts';
