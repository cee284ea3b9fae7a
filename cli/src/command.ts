// The contract between the `edgeplane` dispatcher and its command groups.
export interface CommandIO {
  /** Results (YAML, JSON, tables): stdout. */
  out: (text: string) => void;
  /** Progress and errors for a person: stderr. */
  err: (text: string) => void;
}

export interface CommandGroup {
  name: string;
  summary: string;
  /** Runs with the arguments after the group name; resolves to the process exit code. */
  run(argv: string[], io: CommandIO): Promise<number>;
}
