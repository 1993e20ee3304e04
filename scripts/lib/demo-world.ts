// The invented world behind the built-in demo, and the wording that states it. Shared by
// scripts/make-demo-data.ts (one fixed world: public/demo) and scripts/make-demo-models.ts (the
// generator's reading curriculum: a fresh world in every example, so reading the passage is the
// only way to lower its loss). Every name is one invented word, and every word the templates,
// the names and the value lists use becomes one token of the demo vocabulary.
// Synthetic data for teaching retrieval and training, not medical information.

import { mulberry32 } from '../../src/tensor/random';

export type Rng = () => number;

export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

export function shuffle<T>(r: Rng, xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------------------------
// Invented words.

const ONSETS = [
  'b',
  'd',
  'f',
  'g',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'z',
  'br',
  'dr',
  'kr',
  'tr',
  'gl',
  'pl',
  'st',
  'sk',
  'th',
  'h',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou', 'y'];
const CODAS = ['', '', 'n', 'r', 'l', 's', 'k', 'm', 'th', 'x'];
const DRUG_ENDS = ['exol', 'arel', 'uvan', 'irin', 'otane', 'elix', 'umid', 'afen', 'idra', 'ostan'];

function syllable(r: Rng): string {
  return pick(r, ONSETS) + pick(r, VOWELS) + pick(r, CODAS);
}

/** Invented names must not read as these. */
const UNFIT = /sex|fag|nig|rape|porn|kill|dead|shit|fuk|cum|tit|dick|ass/;

export type NameKind = 'condition' | 'drug' | 'gene' | 'eponym';

/** One invented word of a kind: conditions and eponyms are 2-3 syllables, drugs end in an invented stem, genes end in a digit. */
export function inventName(r: Rng, kind: NameKind): string {
  switch (kind) {
    case 'condition':
    case 'eponym':
      return syllable(r) + syllable(r) + (r() < 0.3 ? syllable(r) : '');
    case 'drug':
      return syllable(r) + syllable(r) + pick(r, DRUG_ENDS);
    case 'gene':
      return syllable(r) + String(2 + Math.floor(r() * 8));
  }
}

/**
 * `n` distinct invented names of each kind, none a word of `avoid` nor of another kind, in draw
 * order. Deterministic for a seed.
 */
export function namePool(seed: number, n: number, avoid: ReadonlySet<string> = new Set()): Record<NameKind, string[]> {
  const r = mulberry32(seed);
  const seen = new Set<string>();
  const out: Record<NameKind, string[]> = { condition: [], drug: [], gene: [], eponym: [] };
  for (const kind of Object.keys(out) as NameKind[]) {
    while (out[kind].length < n) {
      const w = inventName(r, kind);
      if (w.length < 4 || w.length > 14 || seen.has(w) || avoid.has(w) || WORDS_IN_TEMPLATES.has(w) || UNFIT.test(w)) continue;
      seen.add(w);
      out[kind].push(w);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Facts: six aspects of a condition, each with one value.

/** Words (not invented) that some aspects take their values from. */
export const SYMPTOMS = [
  'fever',
  'rash',
  'cough',
  'tremor',
  'jaundice',
  'fatigue',
  'headache',
  'nausea',
  'dizziness',
  'itching',
  'wheezing',
  'numbness',
  'swelling',
  'insomnia',
  'confusion',
  'bleeding',
  'hoarseness',
  'weakness',
  'palpitations',
  'sweating',
  'cramps',
  'thirst',
  'hiccups',
  'stiffness',
  'bruising',
  'blisters',
  'fainting',
  'drooling',
  'chills',
  'vertigo',
];
export const ORGANS = [
  'kidney',
  'liver',
  'lung',
  'heart',
  'skin',
  'brain',
  'spleen',
  'pancreas',
  'thyroid',
  'eye',
  'bone',
  'stomach',
  'bladder',
  'colon',
  'muscle',
  'ear',
  'tongue',
  'blood',
  'joints',
  'nerves',
];
export const COMPLICATIONS = [
  'stroke',
  'sepsis',
  'blindness',
  'anaemia',
  'seizures',
  'fractures',
  'deafness',
  'infertility',
  'paralysis',
  'gangrene',
  'dementia',
  'scarring',
  'ulcers',
  'clots',
  'cataracts',
  'coma',
  'arrhythmia',
  'osteoporosis',
  'hepatitis',
  'obstruction',
];
export const KINDS = ['disease', 'syndrome', 'sclerosis', 'palsy', 'disorder'];

export type Aspect = 'drug' | 'gene' | 'test' | 'symptom' | 'organ' | 'complication';
export const ASPECTS: readonly Aspect[] = ['drug', 'gene', 'test', 'symptom', 'organ', 'complication'];

/** Where each aspect's values come from: invented names or a word list. */
export const VALUE_SOURCE: Record<Aspect, NameKind | readonly string[]> = {
  drug: 'drug',
  gene: 'gene',
  test: 'eponym',
  symptom: SYMPTOMS,
  organ: ORGANS,
  complication: COMPLICATIONS,
};

export interface Condition {
  /** The invented word ("varis"). */
  name: string;
  /** "disease", "syndrome", ... */
  kind: string;
  /** The look-alike it is confused with (its pair). */
  partner: number;
  values: Record<Aspect, string>;
}

export const conditionName = (c: Condition): string => `${capital(c.name)} ${c.kind}`;

// ---------------------------------------------------------------------------------------------
// Wording. {C}: the condition, {P}: its look-alike, {V}: the value. Passages: a sentence that
// names the look-alike, the fact, and a sentence of the aspect's usual vocabulary (which other
// conditions' passages on the aspect share). Questions: two training wordings per kind, and one
// more (REPHRASE) that only the held-out rephrased questions use.

export const FACT: Record<Aspect, string[]> = {
  drug: ['{C} is treated first with {V}.', 'The first-line drug for {C} is {V}.', 'Most patients with {C} are started on {V}.'],
  gene: [
    '{C} is caused by variants in the {V} gene.',
    'Mutations of the {V} gene underlie {C}.',
    'In {C} the {V} gene is altered.',
  ],
  test: ['{C} is confirmed by the {V} test.', 'The {V} test is used to diagnose {C}.', 'A positive {V} test establishes {C}.'],
  symptom: [
    'The hallmark symptom of {C} is {V}.',
    'Patients with {C} mainly present with {V}.',
    '{C} typically begins with {V}.',
  ],
  organ: [
    '{C} mainly affects the {V}.',
    'The organ most damaged in {C} is the {V}.',
    'In {C} the {V} is the main site of disease.',
  ],
  complication: [
    'The most feared complication of {C} is {V}.',
    'Untreated {C} can lead to {V}.',
    'Patients with {C} are at risk of {V}.',
  ],
};

export const LOOKALIKE = [
  '{C} is easily mistaken for {P}.',
  '{C} and {P} are often confused.',
  'Clinicians may confuse {C} with {P}.',
];

export const FILLER: Record<Aspect, string[]> = {
  drug: [
    'Treatment usually lasts six months, and the dose is reviewed at each visit.',
    'The medicine is taken daily, and stopping early often brings relapse.',
  ],
  gene: [
    'Genetic testing of relatives is offered, since the condition can run in families.',
    'The variant is inherited, and carriers may have no signs at all.',
  ],
  test: [
    'The result is usually ready within a day, and a negative result makes the diagnosis unlikely.',
    'Diagnosis rests on this result together with the clinical picture.',
  ],
  symptom: [
    'Symptoms often come and go, and many patients first notice them at night.',
    'The first signs are easy to miss, and patients may wait months before seeing a doctor.',
  ],
  organ: [
    'Damage builds up slowly, and imaging shows the extent of the disease.',
    'Other organs are spared in most cases, and the damage can be slowed.',
  ],
  complication: [
    'Careful follow up lowers this risk, and early treatment helps most.',
    'The risk rises with age, and patients are warned about the warning signs.',
  ],
};

export const QUESTION: Record<Aspect, { mc: string[]; yn: string[]; rephraseMc: string; rephraseYn: string }> = {
  drug: {
    mc: ['Which drug is given first for {C}?', 'What is the first-line treatment of {C}?'],
    yn: ['Is {V} the first-line drug for {C}?', 'Is {C} treated first with {V}?'],
    rephraseMc: 'A patient has {C}. Which medicine should be started?',
    rephraseYn: 'Should a patient with {C} be started on {V}?',
  },
  gene: {
    mc: ['Variants in which gene cause {C}?', 'Which gene is altered in {C}?'],
    yn: ['Is {C} caused by variants in the {V} gene?', 'Is the {V} gene altered in {C}?'],
    rephraseMc: 'Genetic testing for {C} looks at which gene?',
    rephraseYn: 'Would testing the {V} gene detect {C}?',
  },
  test: {
    mc: ['Which test confirms {C}?', 'What test is used to diagnose {C}?'],
    yn: ['Is {C} confirmed by the {V} test?', 'Is the {V} test used to diagnose {C}?'],
    rephraseMc: 'To prove that a patient has {C}, which test is ordered?',
    rephraseYn: 'Does a positive {V} test prove {C}?',
  },
  symptom: {
    mc: ['What is the hallmark symptom of {C}?', 'Patients with {C} mainly present with which symptom?'],
    yn: ['Is {V} the hallmark symptom of {C}?', 'Do patients with {C} mainly present with {V}?'],
    rephraseMc: 'Which complaint brings a patient with {C} to the doctor?',
    rephraseYn: 'Would a patient with {C} usually complain of {V}?',
  },
  organ: {
    mc: ['Which organ does {C} mainly affect?', 'What is the organ most damaged in {C}?'],
    yn: ['Does {C} mainly affect the {V}?', 'Is the {V} the organ most damaged in {C}?'],
    rephraseMc: 'Where in the body does {C} do its damage?',
    rephraseYn: 'Is {C} a disease of the {V}?',
  },
  complication: {
    mc: ['What is the most feared complication of {C}?', 'Untreated {C} can lead to what?'],
    yn: ['Is {V} the most feared complication of {C}?', 'Can untreated {C} lead to {V}?'],
    rephraseMc: 'What should a patient with {C} be warned might happen?',
    rephraseYn: 'Should a patient with {C} be warned about {V}?',
  },
};

const fill = (t: string, c: string, p: string, v: string): string =>
  t.replaceAll('{C}', c).replaceAll('{P}', p).replaceAll('{V}', v);

/** Every word the templates and value lists use (lowercase), so invented names never collide with one. */
export const WORDS_IN_TEMPLATES: ReadonlySet<string> = new Set(
  [
    ...Object.values(FACT).flat(),
    ...LOOKALIKE,
    ...Object.values(FILLER).flat(),
    ...Object.values(QUESTION).flatMap((q) => [...q.mc, ...q.yn, q.rephraseMc, q.rephraseYn]),
    ...SYMPTOMS,
    ...ORGANS,
    ...COMPLICATIONS,
    ...KINDS,
  ]
    .join(' ')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean),
);

/** A passage on one aspect of `c`: its title is the condition; the fact comes first or second. */
/** The sentence of a passage that states `c`'s value of `aspect`, in one of its wordings. */
export function factText(r: Rng, c: Condition, aspect: Aspect): string {
  return fill(pick(r, FACT[aspect]), conditionName(c), '', c.values[aspect]);
}

export function passageText(r: Rng, c: Condition, partner: Condition, aspect: Aspect): string {
  const C = conditionName(c),
    P = conditionName(partner);
  const fact = factText(r, c, aspect);
  const look = fill(pick(r, LOOKALIKE), C, P, '');
  const filler = pick(r, FILLER[aspect]);
  return (r() < 0.5 ? [fact, look, filler] : [look, fact, filler]).join(' ');
}

export function questionText(template: string, c: Condition, value = ''): string {
  return fill(template, conditionName(c), '', value);
}

/**
 * A world of `pairs` look-alike pairs: each condition gets a name, a kind shared with its partner,
 * and one value per aspect; partners never share a value, so the partner's passage on the aspect
 * gives another answer. Names come from `names` in order (no name is used twice).
 */
export function makeWorld(r: Rng, pairs: number, names: Record<NameKind, string[]>): Condition[] {
  const used: Record<NameKind, number> = { condition: 0, drug: 0, gene: 0, eponym: 0 };
  const take = (k: NameKind): string => {
    const w = names[k][used[k]++];
    if (w === undefined) throw new Error(`the name pool has too few ${k} names for ${pairs} pairs`);
    return w;
  };
  const out: Condition[] = [];
  for (let p = 0; p < pairs; p++) {
    const kind = pick(r, KINDS);
    const a: Condition = { name: take('condition'), kind, partner: 2 * p + 1, values: {} as Record<Aspect, string> };
    const b: Condition = { name: take('condition'), kind, partner: 2 * p, values: {} as Record<Aspect, string> };
    for (const aspect of ASPECTS) {
      const src = VALUE_SOURCE[aspect];
      if (typeof src === 'string') {
        a.values[aspect] = take(src);
        b.values[aspect] = take(src);
      } else {
        const [x, y] = shuffle(r, src);
        a.values[aspect] = x!;
        b.values[aspect] = y!;
      }
    }
    out.push(a, b);
  }
  return out;
}

/**
 * Options of a multiple-choice question on `aspect` of `c`: the answer, the look-alike's value
 * (what its passage would suggest) and two more values of the aspect from `pool`, with the answer
 * at `answerAt`.
 */
export function mcOptions(
  r: Rng,
  c: Condition,
  partner: Condition,
  aspect: Aspect,
  pool: readonly string[],
  answerAt: number,
): string[] {
  const wrong = [partner.values[aspect]];
  while (wrong.length < 3) {
    const w = pick(r, pool);
    if (w !== c.values[aspect] && !wrong.includes(w)) wrong.push(w);
  }
  const others = shuffle(r, wrong);
  others.splice(answerAt, 0, c.values[aspect]);
  return others;
}
