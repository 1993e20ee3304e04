// The generator's reading curriculum (scripts/lib/demo-curriculum.ts): what each stage puts in the
// context, and that the answer is only ever in the context when the gold passage is there, so the
// loss can only be lowered by reading. The short stage is what breaks the plateau: with 4,000
// steps of full-length contexts the twin never learned to copy (accuracy with the gold passage 41 %).
import { describe, expect, it } from 'vitest';
import { curriculumExample, type Stage } from '../../scripts/lib/demo-curriculum';
import { namePool } from '../../scripts/lib/demo-world';
import { mulberry32 } from '../../src/tensor/random';

const pool = namePool(11, 60);
const draw = (stage: Stage, n: number, seed = 5) => {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => curriculumExample(r, pool, stage));
};
const sentences = (t: string): string[] => t.split(/(?<=\.)\s+/);
const invented = new Set([...pool.drug, ...pool.gene, ...pool.eponym]);
const isMc = (a: string): boolean => a !== 'yes' && a !== 'no';

describe('reading curriculum', () => {
  it('short stage: the gold fact sentence alone, which holds the multiple-choice answer', () => {
    for (const ex of draw('short', 300)) {
      expect(ex.gold).toBe(true);
      expect(ex.docs).toHaveLength(1);
      expect(sentences(ex.docs[0]!.text)).toHaveLength(1);
      expect(ex.docs[0]!.text).toContain(ex.docs[0]!.title!);
      if (isMc(ex.answer)) expect(ex.docs[0]!.text.split(/[ .]/)).toContain(ex.answer);
    }
  });

  it('easy stage: the whole gold passage alone (three sentences)', () => {
    for (const ex of draw('easy', 200)) {
      expect(ex.gold).toBe(true);
      expect(ex.docs).toHaveLength(1);
      expect(sentences(ex.docs[0]!.text)).toHaveLength(3);
    }
  });

  it('mixed stage: 0-2 passages, mostly with the gold one; the answer is in the context when the gold passage is, and an invented one only then', () => {
    const xs = draw('mixed', 3000);
    const count = (f: (e: (typeof xs)[number]) => boolean): number => xs.filter(f).length / xs.length;
    expect(count((e) => e.docs.length === 0)).toBeGreaterThan(0.07);
    expect(count((e) => e.docs.length === 0)).toBeLessThan(0.13);
    expect(count((e) => e.docs.length === 2)).toBeGreaterThan(0.5);
    expect(count((e) => e.gold)).toBeGreaterThan(0.65);
    expect(count((e) => e.gold)).toBeLessThan(0.8);
    expect(count((e) => isMc(e.answer))).toBeGreaterThan(0.45);
    expect(count((e) => isMc(e.answer))).toBeLessThan(0.55);
    for (const e of xs) {
      expect(new Set(e.docs.map((d) => d.id)).size).toBe(e.docs.length);
      if (!isMc(e.answer)) continue;
      const inContext = e.docs.some((d) => d.text.split(/[ .]/).includes(e.answer));
      // Real-word values (symptoms, organs, complications) may repeat across pairs; invented ones never do.
      if (e.gold || invented.has(e.answer)) expect(inContext).toBe(e.gold);
    }
  });

  it('yesNo sets the share of yes/no questions (phase 2 leans on them)', () => {
    const r = mulberry32(12);
    const xs = Array.from({ length: 2000 }, () => curriculumExample(r, pool, 'mixed', 0.75));
    const yn = xs.filter((e) => !isMc(e.answer)).length / xs.length;
    expect(yn).toBeGreaterThan(0.72);
    expect(yn).toBeLessThan(0.78);
    const yes = xs.filter((e) => e.answer === 'yes').length / xs.length;
    expect(yes).toBeGreaterThan(0.33); // yes and no stay balanced
    expect(yes).toBeLessThan(0.42);
  });

  it('is deterministic for a seed, and the seed matters', () => {
    expect(draw('mixed', 50, 9)).toEqual(draw('mixed', 50, 9));
    expect(draw('mixed', 50, 9)).not.toEqual(draw('mixed', 50, 10));
  });
});
