// A form field's error, in the one style every cell uses: under the field (whose input carries
// aria-invalid and points here with aria-describedby), red, small, and announced when it appears.
// A problem of the cell as a whole (a failed load, a refused run) is a paragraph of class "error".

import type { ReactNode } from 'react';
import { SchemaError, type Schema } from '../../core/schema';

/**
 * What is wrong with a typed value, in the words of the schema the notebook keeps it under (a
 * source a cell remembers: notebook/schema.ts), or null when it passes: one rule for the field
 * and for the saved notebook.
 */
export function schemaProblem(schema: Schema<unknown>, value: unknown): string | null {
  try {
    schema.parse(value);
    return null;
  } catch (err) {
    if (err instanceof SchemaError) return err.problem;
    throw err;
  }
}

export function FieldError({ id, testId, children }: { id: string; testId?: string; children: ReactNode }) {
  return (
    <span className="field-error" id={id} role="alert" data-testid={testId}>
      {children}
    </span>
  );
}
