// The inspector's scatter of retriever score against utility for one question at one step (SVG,
// presentational): each judged candidate a point, with an arrow to its score after the update;
// the gold passage always, judged or not, candidate or not; the answer NLL with no document as a
// dashed line (points below it are documents that help). Axes are scaled to the data
// (runView.scatterView), and the legend's markers are the plot's own shapes.

import { fmt, niceTicks, type ScatterView } from '../runView';

const W = 520,
  H = 260;
const M = { left: 52, right: 12, top: 10, bottom: 38 };
const BLUE = '#0072B2',
  ORANGE = '#D55E00',
  GREY = '#6b7280';

/** A star of radius r at (x, y): the gold passage's marker, here and in the legend. */
function starPath(x: number, y: number, r: number): string {
  const pts = Array.from({ length: 10 }, (_, i) => {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rr = i % 2 ? r * 0.45 : r;
    return `${(x + rr * Math.cos(a)).toFixed(1)},${(y + rr * Math.sin(a)).toFixed(1)}`;
  });
  return `M${pts.join('L')}Z`;
}

export function ScoreScatter({ view }: { view: ScatterView }) {
  const { points, noDoc } = view;
  const [x0, x1] = view.x,
    [y0, y1] = view.y;
  const sx = (v: number): number => M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right);
  const sy = (v: number): number => H - M.bottom - ((v - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const judged = points.filter((p) => p.y !== null);
  if (judged.length === 0 && points.length === 0)
    return <p className="muted">No document was judged by the generator at this step.</p>;
  const arrows = judged.filter((p) => p.xAfter !== null && p.xAfter !== p.x);
  const title = 'Retriever score against utility (aligned: high score, low NLL), arrows to the score after the update';
  return (
    <figure
      className="chart scatter"
      data-testid="chart-scatter"
      data-points={judged.length}
      data-arrows={arrows.length}
      data-gold={points.some((p) => p.gold) ? points.find((p) => p.gold)!.docId : ''}
    >
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: answer NLL against retriever score`}>
        <defs>
          <marker id="scatter-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0L8,4L0,8Z" fill={GREY} />
          </marker>
        </defs>
        {niceTicks(x0, x1).map((t) => (
          <g key={`x${t}`} className="tick">
            <line x1={sx(t)} x2={sx(t)} y1={M.top} y2={H - M.bottom} />
            <text x={sx(t)} y={H - M.bottom + 14} textAnchor="middle">
              {t}
            </text>
          </g>
        ))}
        {niceTicks(y0, y1, 4).map((t) => (
          <g key={`y${t}`} className="tick">
            <line x1={M.left} x2={W - M.right} y1={sy(t)} y2={sy(t)} />
            <text x={M.left - 6} y={sy(t) + 4} textAnchor="end">
              {t}
            </text>
          </g>
        ))}
        <text className="axis-title" x={(M.left + W - M.right) / 2} y={H - 4} textAnchor="middle">
          retriever score (MaxSim)
        </text>
        <text className="axis-title" transform={`translate(12 ${(M.top + H - M.bottom) / 2}) rotate(-90)`} textAnchor="middle">
          answer NLL
        </text>
        {noDoc !== null && (
          <g data-testid="scatter-no-doc">
            <line className="no-doc" x1={M.left} x2={W - M.right} y1={sy(noDoc)} y2={sy(noDoc)} />
            <text className="no-doc-label" x={W - M.right - 4} y={sy(noDoc) - 4} textAnchor="end">
              no document {fmt(noDoc, 3)}
            </text>
          </g>
        )}
        {arrows.map((p) => (
          <line
            key={`a-${p.docId}`}
            className="arrow"
            data-testid="scatter-arrow"
            data-doc-id={p.docId}
            x1={sx(p.x)}
            x2={sx(p.xAfter!)}
            y1={sy(p.y!)}
            y2={sy(p.y!)}
            markerEnd="url(#scatter-arrow)"
          />
        ))}
        {points.map((p) => {
          const label = `${p.docId}${p.gold ? ' ★ gold' : ''}: score ${fmt(p.x, 4)}${
            p.xAfter !== null ? ` → ${fmt(p.xAfter, 4)} after the update` : ''
          }${p.candidate ? '' : ' (not a candidate: its score in the index search)'}, NLL ${
            p.y === null ? 'not judged' : fmt(p.y, 4)
          }`;
          if (p.y === null)
            // A gold passage the generator did not judge: where its score is, across the plot.
            return (
              <g key={p.docId} data-testid="scatter-point" data-doc-id={p.docId} data-gold="true" data-judged="false">
                <title>{label}</title>
                <line className="gold-line" x1={sx(p.x)} x2={sx(p.x)} y1={M.top} y2={H - M.bottom} />
                <path d={starPath(sx(p.x), M.top + 8, 7)} fill="none" stroke={ORANGE} strokeWidth={1.5} />
              </g>
            );
          return (
            <g key={p.docId} data-testid="scatter-point" data-doc-id={p.docId} data-gold={p.gold} data-judged="true">
              <title>{label}</title>
              {p.gold ? (
                <path d={starPath(sx(p.x), sy(p.y), 8)} fill={p.candidate ? ORANGE : '#fff'} stroke={ORANGE} strokeWidth={1.5} />
              ) : (
                <circle cx={sx(p.x)} cy={sy(p.y)} r={4.5} fill={BLUE} />
              )}
            </g>
          );
        })}
      </svg>
      <ul className="legend" aria-label="legend">
        <li>
          <svg width="14" height="14" aria-hidden="true">
            <circle cx="7" cy="7" r="4.5" fill={BLUE} />
          </svg>
          judged candidate
        </li>
        <li>
          <svg width="16" height="16" aria-hidden="true">
            <path d={starPath(8, 8.5, 7)} fill={ORANGE} stroke={ORANGE} />
          </svg>
          gold ★ (hollow: not a candidate; at the top with a line: not judged)
        </li>
        <li>
          <svg width="26" height="14" aria-hidden="true">
            <line x1="2" x2="20" y1="7" y2="7" stroke={GREY} strokeWidth="1.5" markerEnd="url(#scatter-arrow)" />
          </svg>
          score before → after the update
        </li>
        {noDoc !== null && (
          <li>
            <svg width="26" height="14" aria-hidden="true">
              <line className="no-doc" x1="2" x2="24" y1="7" y2="7" />
            </svg>
            NLL with no document
          </li>
        )}
      </ul>
    </figure>
  );
}
