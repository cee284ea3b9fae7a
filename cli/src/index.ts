export { main, GROUPS } from './main.ts';
export type { CommandGroup, CommandIO } from './command.ts';
export { modelCommands } from './model/command.ts';
export { ModelError, isModelError, type ModelErrorCode } from './model/errors.ts';
