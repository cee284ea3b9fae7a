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
