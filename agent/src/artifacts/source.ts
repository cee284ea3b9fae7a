// A place an artifact's bytes come from, readable from an offset so downloads can resume.

export interface SourceRead {
  /** Chunks from the requested offset (after `skip` leading bytes are dropped). */
  chunks: AsyncIterable<Uint8Array>;
  /** Bytes at the start of `chunks` that precede the requested offset (a source that cannot seek). */
  skip: number;
  /** Stops the read early and releases what it holds. */
  close(): Promise<void>;
}

export interface ArtifactSource {
  read(offset: number): Promise<SourceRead>;
}
