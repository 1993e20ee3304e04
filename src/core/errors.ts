// The root of every error MedRank shows a user. Each subclass says what went wrong and what to
// do next, so the app can show the message as-is; callers branch on the class (instanceof) and
// on its typed fields, never on the message text. This room sits below every layer.

export class MedRankError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request the user cancelled (a download, an index build, an evaluation): every layer's cancel error is one. */
export class CancelledError extends MedRankError {}
