// A form field's error, in the one style every cell uses: under the field (whose input carries
// aria-invalid and points here with aria-describedby), red, small, and announced when it appears.
// A problem of the cell as a whole (a failed load, a refused run) is a paragraph of class "error".

import type { ReactNode } from 'react';

export function FieldError({ id, testId, children }: { id: string; testId?: string; children: ReactNode }) {
  return (
    <span className="field-error" id={id} role="alert" data-testid={testId}>
      {children}
    </span>
  );
}
