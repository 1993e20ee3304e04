// A column header of numbers (right-aligned, like its cells).

import type { ReactNode } from 'react';

export function NumTh({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <th scope="col" className="num" title={title}>
      {children}
    </th>
  );
}
