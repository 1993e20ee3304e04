// The built-in demo set: `npm run make-demo-data` writes public/demo/corpus.jsonl and
// public/demo/questions.jsonl (the generic JSONL QA format, docs/data-formats.md) from a small
// knowledge base written for MedRank. Every condition and drug in it is fictional (invented
// eponyms and drug names with textbook-style attributes), so a model cannot answer from memory:
// the answer is in the passage. Each condition has six passages (overview, risk, diagnosis,
// treatment, complications, and a monograph of its drug); conditions of the same organ system
// share vocabulary, name each other and reuse eponyms, so they are one another's distractors.
// Everything random draws from mulberry32 with a fixed seed: the output is byte-deterministic.
// Synthetic data for testing retrieval and training, not medical information.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/tensor/random';

export const DEMO_SEED = 20250501;

export type DemoSplit = 'train' | 'validation' | 'test';

export interface DemoPassage {
  id: string;
  title: string;
  text: string;
}

export interface DemoQuestion {
  id: string;
  question: string;
  options?: string[];
  answer: string;
  gold_doc_ids: string[];
  split: DemoSplit;
}

export interface DemoData {
  passages: DemoPassage[];
  questions: DemoQuestion[];
  /** The condition each question is about, in question order (for stratification checks). */
  questionEntity: string[];
  corpusJsonl: string;
  questionsJsonl: string;
}

// ---------------------------------------------------------------------------------------------
// The knowledge base: drug classes, organ systems, shared pools.

interface DrugClass {
  name: string;
  article: 'a' | 'an';
  /** A verb phrase: "blocks ...". */
  mechanism: string;
  sideEffects: [string, string, string];
}

const CLASSES = {
  betaBlocker: {
    name: 'beta-blocker',
    article: 'a',
    mechanism: 'blocks beta-1 adrenergic receptors and slows the heart rate',
    sideEffects: ['fatigue', 'cold hands', 'vivid dreams'],
  },
  aceInhibitor: {
    name: 'ACE inhibitor',
    article: 'an',
    mechanism: 'blocks the conversion of angiotensin I to angiotensin II',
    sideEffects: ['dry cough', 'raised serum potassium', 'lip swelling'],
  },
  ccb: {
    name: 'calcium channel blocker',
    article: 'a',
    mechanism: 'blocks L-type calcium channels in arterial smooth muscle',
    sideEffects: ['ankle swelling', 'facial flushing', 'headache'],
  },
  xaban: {
    name: 'factor Xa inhibitor',
    article: 'a',
    mechanism: 'inhibits activated factor X in the clotting cascade',
    sideEffects: ['easy bruising', 'nosebleeds', 'heavy menstrual bleeding'],
  },
  inhaledSteroid: {
    name: 'inhaled corticosteroid',
    article: 'an',
    mechanism: 'damps down airway inflammation through glucocorticoid receptors',
    sideEffects: ['oral thrush', 'hoarse voice', 'sore throat'],
  },
  lukast: {
    name: 'leukotriene receptor antagonist',
    article: 'a',
    mechanism: 'blocks cysteinyl leukotriene receptors in the airways',
    sideEffects: ['sleep disturbance', 'abdominal pain', 'mood changes'],
  },
  terol: {
    name: 'long-acting beta-2 agonist',
    article: 'a',
    mechanism: 'stimulates beta-2 receptors to relax bronchial smooth muscle',
    sideEffects: ['tremor', 'palpitations', 'muscle cramps'],
  },
  macrolide: {
    name: 'macrolide antibiotic',
    article: 'a',
    mechanism: 'binds the 50S ribosomal subunit and halts bacterial protein synthesis',
    sideEffects: ['nausea', 'altered taste', 'loose stools'],
  },
  ppi: {
    name: 'proton pump inhibitor',
    article: 'a',
    mechanism: 'irreversibly blocks the gastric hydrogen-potassium pump',
    sideEffects: ['headache', 'low magnesium', 'diarrhoea'],
  },
  setron: {
    name: '5-HT3 antagonist',
    article: 'a',
    mechanism: 'blocks serotonin 5-HT3 receptors in the gut and brainstem',
    sideEffects: ['constipation', 'dizziness', 'headache'],
  },
  salazine: {
    name: 'aminosalicylate',
    article: 'an',
    mechanism: 'reduces inflammation in the bowel lining by blocking prostaglandin production',
    sideEffects: ['nausea', 'rash', 'orange urine'],
  },
  loop: {
    name: 'loop diuretic',
    article: 'a',
    mechanism: 'blocks the sodium-potassium-chloride cotransporter in the loop of Henle',
    sideEffects: ['low potassium', 'dehydration', 'gout flares'],
  },
  sglt2: {
    name: 'SGLT2 inhibitor',
    article: 'an',
    mechanism: 'blocks glucose reabsorption in the proximal tubule',
    sideEffects: ['genital thrush', 'frequent urination', 'dehydration'],
  },
  vaptan: {
    name: 'vasopressin antagonist',
    article: 'a',
    mechanism: 'blocks vasopressin V2 receptors in the collecting duct',
    sideEffects: ['thirst', 'frequent urination', 'raised liver enzymes'],
  },
  gliptin: {
    name: 'DPP-4 inhibitor',
    article: 'a',
    mechanism: 'slows the breakdown of incretin hormones',
    sideEffects: ['joint pain', 'runny nose', 'headache'],
  },
  reotide: {
    name: 'somatostatin analogue',
    article: 'a',
    mechanism: 'mimics somatostatin and suppresses hormone release',
    sideEffects: ['gallstones', 'abdominal cramps', 'injection-site pain'],
  },
  triptan: {
    name: 'triptan',
    article: 'a',
    mechanism: 'activates serotonin 5-HT1B/1D receptors on cranial blood vessels',
    sideEffects: ['chest tightness', 'tingling', 'drowsiness'],
  },
  racetam: {
    name: 'SV2A ligand',
    article: 'an',
    mechanism: 'binds synaptic vesicle protein SV2A and calms neuronal firing',
    sideEffects: ['irritability', 'drowsiness', 'dizziness'],
  },
  stigmine: {
    name: 'cholinesterase inhibitor',
    article: 'a',
    mechanism: 'blocks acetylcholinesterase and raises acetylcholine levels',
    sideEffects: ['slow heart rate', 'muscle twitching', 'excess saliva'],
  },
  mab: {
    name: 'monoclonal antibody',
    article: 'a',
    mechanism: 'binds a single protein target and blocks its signalling',
    sideEffects: ['infusion reactions', 'injection-site redness', 'upper respiratory infections'],
  },
  tinib: {
    name: 'tyrosine kinase inhibitor',
    article: 'a',
    mechanism: 'blocks an overactive tyrosine kinase signalling enzyme',
    sideEffects: ['rash', 'fluid retention', 'diarrhoea'],
  },
  dustat: {
    name: 'HIF stabiliser',
    article: 'a',
    mechanism: 'stabilises hypoxia-inducible factor to boost red cell production',
    sideEffects: ['high blood pressure', 'muscle cramps', 'itching'],
  },
  azole: {
    name: 'azole antifungal',
    article: 'an',
    mechanism: 'inhibits ergosterol synthesis in the fungal cell membrane',
    sideEffects: ['raised liver enzymes', 'nausea', 'visual disturbance'],
  },
  vir: {
    name: 'polymerase inhibitor',
    article: 'a',
    mechanism: 'blocks the viral polymerase and halts replication',
    sideEffects: ['headache', 'fatigue', 'nausea'],
  },
  floxacin: {
    name: 'fluoroquinolone',
    article: 'a',
    mechanism: 'inhibits bacterial DNA gyrase',
    sideEffects: ['tendon pain', 'light sensitivity', 'dizziness'],
  },
  dronate: {
    name: 'bisphosphonate',
    article: 'a',
    mechanism: 'inhibits osteoclast-driven bone resorption',
    sideEffects: ['heartburn', 'jaw pain', 'flu-like aches'],
  },
  coxib: {
    name: 'COX-2 inhibitor',
    article: 'a',
    mechanism: 'selectively inhibits cyclooxygenase-2',
    sideEffects: ['indigestion', 'fluid retention', 'raised blood pressure'],
  },
  xostat: {
    name: 'xanthine oxidase inhibitor',
    article: 'a',
    mechanism: 'blocks xanthine oxidase and lowers uric acid production',
    sideEffects: ['gout flares on starting', 'rash', 'raised liver enzymes'],
  },
  retinoid: {
    name: 'retinoid',
    article: 'a',
    mechanism: 'acts on retinoic acid receptors to normalise skin cell turnover',
    sideEffects: ['dry lips', 'sun sensitivity', 'raised blood fats'],
  },
  limus: {
    name: 'calcineurin inhibitor',
    article: 'a',
    mechanism: 'blocks calcineurin and dampens T-cell activation',
    sideEffects: ['skin burning', 'itching', 'flushing after alcohol'],
  },
} satisfies Record<string, DrugClass>;

type ClassKey = keyof typeof CLASSES;

interface OrganSystem {
  /** "the heart and blood vessels" */
  organ: string;
  /** "cardiovascular" */
  adj: string;
  /** "cardiology" */
  specialty: string;
  /** Nouns for condition names: "<Eponym> <noun>". */
  nouns: [string, string, string, string];
  /** Eight each: every condition of the system gets its own. */
  symptoms: string[];
  tests: string[];
  complications: string[];
  /** Four classes: two conditions of the system are treated with each. */
  classes: [ClassKey, ClassKey, ClassKey, ClassKey];
}

const SYSTEMS: OrganSystem[] = [
  {
    organ: 'the heart and blood vessels',
    adj: 'cardiovascular',
    specialty: 'cardiology',
    nouns: ['syndrome', 'cardiomyopathy', 'arteritis', 'heart disease'],
    symptoms: [
      'chest tightness on exertion',
      'palpitations when lying flat',
      'swelling of both ankles',
      'fainting during exercise',
      'breathlessness that wakes the patient at night',
      'cold, pale fingertips',
      'calf pain when walking',
      'a pounding heartbeat after meals',
    ],
    tests: [
      'echocardiography',
      'a 24-hour Holter recording',
      'serum troponin measurement',
      'cardiac MRI',
      'an exercise stress test',
      'coronary angiography',
      'serum BNP measurement',
      'a tilt-table test',
    ],
    complications: [
      'heart failure',
      'atrial fibrillation',
      'stroke',
      'aortic dissection',
      'sudden cardiac arrest',
      'pericardial effusion',
      'mitral regurgitation',
      'critical limb ischaemia',
    ],
    classes: ['betaBlocker', 'aceInhibitor', 'ccb', 'xaban'],
  },
  {
    organ: 'the lungs and airways',
    adj: 'respiratory',
    specialty: 'respiratory medicine',
    nouns: ['syndrome', 'bronchiolitis', 'pneumonitis', 'lung disease'],
    symptoms: [
      'a dry cough that is worse at night',
      'wheeze on breathing cold air',
      'coughing up blood-streaked sputum',
      'breathlessness on climbing stairs',
      'chest pain on deep breathing',
      'a hoarse voice',
      'clubbing of the fingers',
      'early-morning chest tightness',
    ],
    tests: [
      'spirometry',
      'a high-resolution chest CT',
      'bronchoscopy with lavage',
      'a sputum culture',
      'arterial blood gas analysis',
      'a methacholine challenge',
      'a lung biopsy',
      'an exhaled nitric oxide test',
    ],
    complications: [
      'respiratory failure',
      'pneumothorax',
      'pulmonary hypertension',
      'bronchiectasis',
      'lung abscess',
      'pleural effusion',
      'recurrent pneumonia',
      'lung fibrosis',
    ],
    classes: ['inhaledSteroid', 'lukast', 'terol', 'macrolide'],
  },
  {
    organ: 'the digestive tract',
    adj: 'gastrointestinal',
    specialty: 'gastroenterology',
    nouns: ['syndrome', 'colitis', 'gastropathy', 'enteropathy'],
    symptoms: [
      'burning upper abdominal pain',
      'bloody diarrhoea',
      'painful swallowing',
      'vomiting after fatty meals',
      'bloating after eating bread',
      'black, tarry stools',
      'persistent hiccups',
      'cramping lower abdominal pain',
    ],
    tests: [
      'upper endoscopy',
      'colonoscopy with biopsy',
      'a faecal calprotectin test',
      'a urea breath test',
      'capsule endoscopy',
      'abdominal ultrasound',
      'a tissue transglutaminase antibody test',
      'oesophageal manometry',
    ],
    complications: [
      'bowel perforation',
      'gastrointestinal bleeding',
      'bowel obstruction',
      'iron-deficiency anaemia',
      'oesophageal stricture',
      'malnutrition',
      'toxic megacolon',
      'fistula formation',
    ],
    classes: ['ppi', 'setron', 'salazine', 'macrolide'],
  },
  {
    organ: 'the kidneys and urinary tract',
    adj: 'renal',
    specialty: 'nephrology',
    nouns: ['syndrome', 'nephritis', 'nephropathy', 'kidney disease'],
    symptoms: [
      'frothy urine',
      'dark, cola-coloured urine',
      'puffiness around the eyes in the morning',
      'flank pain',
      'passing urine many times at night',
      'painful urination',
      'itching without a rash',
      'reduced urine output',
    ],
    tests: [
      'a urine albumin-to-creatinine ratio',
      'a kidney biopsy',
      'a renal ultrasound',
      'serum creatinine measurement',
      'a 24-hour urine collection',
      'urine microscopy',
      'a CT urogram',
      'serum complement levels',
    ],
    complications: [
      'end-stage kidney failure',
      'high blood pressure',
      'kidney stones',
      'fluid overload',
      'dangerously high potassium',
      'renal vein thrombosis',
      'bone thinning',
      'anaemia of kidney disease',
    ],
    classes: ['loop', 'aceInhibitor', 'sglt2', 'vaptan'],
  },
  {
    organ: 'the hormone-producing glands',
    adj: 'endocrine',
    specialty: 'endocrinology',
    nouns: ['syndrome', 'thyroiditis', 'adrenal disorder', 'hormone disorder'],
    symptoms: [
      'excessive thirst',
      'unexplained weight gain',
      'heat intolerance',
      'a swelling at the front of the neck',
      'dizziness on standing',
      'darkening of the skin creases',
      'a tremor of the hands',
      'muscle weakness in the thighs',
    ],
    tests: [
      'a thyroid function panel',
      'an HbA1c test',
      'a short Synacthen test',
      'an overnight dexamethasone suppression test',
      'a thyroid ultrasound',
      'a glucose tolerance test',
      'serum cortisol measurement',
      'a pituitary MRI',
    ],
    complications: [
      'diabetic ketoacidosis',
      'adrenal crisis',
      'thyroid storm',
      'osteoporosis',
      'hypoglycaemic coma',
      'visual loss',
      'infertility',
      'severe low sodium',
    ],
    classes: ['gliptin', 'sglt2', 'reotide', 'betaBlocker'],
  },
  {
    organ: 'the brain and nerves',
    adj: 'neurological',
    specialty: 'neurology',
    nouns: ['syndrome', 'encephalopathy', 'neuropathy', 'migraine'],
    symptoms: [
      'a throbbing one-sided headache',
      'numbness in both feet',
      'brief episodes of staring',
      'a drooping eyelid by evening',
      'difficulty finding words',
      'a shuffling gait',
      'double vision',
      'sudden falls without warning',
    ],
    tests: [
      'an MRI of the brain',
      'an electroencephalogram',
      'a lumbar puncture',
      'nerve conduction studies',
      'an acetylcholine receptor antibody test',
      'a DAT scan',
      'electromyography',
      'a CT angiogram of the head',
    ],
    complications: [
      'status epilepticus',
      'aspiration pneumonia',
      'permanent memory loss',
      'chronic daily headache',
      'foot ulcers',
      'respiratory muscle weakness',
      'falls with hip fracture',
      'hydrocephalus',
    ],
    classes: ['triptan', 'racetam', 'stigmine', 'mab'],
  },
  {
    organ: 'the blood and bone marrow',
    adj: 'haematological',
    specialty: 'haematology',
    nouns: ['syndrome', 'anaemia', 'cytopenia', 'marrow disorder'],
    symptoms: [
      'easy bruising',
      'tiredness with pale skin',
      'recurrent nosebleeds',
      'a painful swollen leg',
      'drenching night sweats',
      'itching after a hot bath',
      'bleeding gums',
      'a tender enlarged spleen',
    ],
    tests: [
      'a full blood count with film',
      'a bone marrow biopsy',
      'a coagulation screen',
      'serum ferritin measurement',
      'a direct antiglobulin test',
      'haemoglobin electrophoresis',
      'flow cytometry',
      'a D-dimer test',
    ],
    complications: [
      'deep vein thrombosis',
      'pulmonary embolism',
      'splenic rupture',
      'iron overload',
      'acute leukaemia',
      'major haemorrhage',
      'gallstones',
      'high-output heart failure',
    ],
    classes: ['mab', 'tinib', 'xaban', 'dustat'],
  },
  {
    organ: 'whichever tissue the microbe invades',
    adj: 'infectious',
    specialty: 'infectious diseases',
    nouns: ['fever', 'infection', 'mycosis', 'syndrome'],
    symptoms: [
      'high fever with shaking chills',
      'a spreading target-shaped rash',
      'a painful swollen knee',
      'a stiff neck with fever',
      'swollen glands in the neck',
      'a productive cough with fever',
      'watery diarrhoea after travel',
      'a cluster of painful blisters',
    ],
    tests: [
      'blood cultures',
      'a PCR swab',
      'a serology panel',
      'a stool culture',
      'a fungal culture',
      'a chest X-ray',
      'a rapid antigen test',
      'a joint fluid aspiration',
    ],
    complications: [
      'sepsis',
      'meningitis',
      'endocarditis',
      'reactive arthritis',
      'chronic carriage',
      'liver abscess',
      'osteomyelitis',
      'post-infectious fatigue',
    ],
    classes: ['azole', 'vir', 'floxacin', 'macrolide'],
  },
  {
    organ: 'the bones, joints and muscles',
    adj: 'musculoskeletal',
    specialty: 'rheumatology',
    nouns: ['arthropathy', 'myositis', 'bone disease', 'syndrome'],
    symptoms: [
      'morning stiffness lasting over an hour',
      'a hot, swollen big toe',
      'low back pain that improves with exercise',
      'weakness when climbing stairs',
      'bone pain at night',
      'swelling of the finger joints',
      'shoulder pain on lifting',
      'a stiff neck on waking',
    ],
    tests: [
      'a DEXA scan',
      'joint ultrasound',
      'serum uric acid measurement',
      'an MRI of the sacroiliac joints',
      'serum creatine kinase measurement',
      'a rheumatoid factor test',
      'a muscle biopsy',
      'a plain X-ray of the hands',
    ],
    complications: [
      'fragility fractures',
      'joint destruction',
      'uveitis',
      'spinal fusion',
      'muscle wasting',
      'kidney stones',
      'carpal tunnel syndrome',
      'tendon rupture',
    ],
    classes: ['dronate', 'coxib', 'mab', 'xostat'],
  },
  {
    organ: 'the skin',
    adj: 'dermatological',
    specialty: 'dermatology',
    nouns: ['dermatitis', 'dermatosis', 'syndrome', 'keratosis'],
    symptoms: [
      'silvery scaly plaques on the elbows',
      'intensely itchy blisters',
      'facial redness with pustules',
      'a slowly growing pearly bump',
      'thickened skin on the palms',
      'patchy hair loss',
      'a rash that flares in sunlight',
      'cracked skin on the hands',
    ],
    tests: [
      'a skin biopsy',
      'patch testing',
      'dermoscopy',
      'a skin scraping for microscopy',
      "a Wood's lamp examination",
      'direct immunofluorescence',
      'a bacterial swab',
      'phototesting',
    ],
    complications: [
      'secondary bacterial infection',
      'scarring',
      'skin cancer',
      'permanent pigment change',
      'eye inflammation',
      'psoriatic arthritis',
      'cellulitis',
      'sleep loss from itching',
    ],
    classes: ['retinoid', 'limus', 'mab', 'azole'],
  },
];

const POPULATIONS = [
  'infants',
  'school-age children',
  'teenagers',
  'young adults',
  'pregnant women',
  'middle-aged men',
  'postmenopausal women',
  'adults over 65',
];

const RISK_FACTORS = [
  'smoking',
  'obesity',
  'long-term steroid use',
  'a family history of the condition',
  'heavy alcohol use',
  'type 2 diabetes',
  'prolonged immobility',
  'night-shift work',
  'contact with farm animals',
  'chronic kidney disease',
  'a recent viral infection',
  'a high-salt diet',
  'previous radiotherapy',
  'recent pregnancy',
  'occupational solvent exposure',
  'untreated high blood pressure',
  'low vitamin D levels',
  'frequent long-haul flights',
  'a sedentary lifestyle',
  'repeated dehydration',
];

/** Nonspecific features; never asked about, so they can repeat across conditions. */
const GENERAL_FEATURES = ['tiredness', 'poor appetite', 'low-grade fever', 'weight loss', 'low mood', 'poor sleep'];

const EPONYM_ONSETS = 'Al Bren Cor Dal Ev Fal Gor Hal Is Jor Kel Lun Mar Nev Or Pell Quor Ral Sev Tor Ul Var Wel Yor Zan'.split(
  ' ',
);
const EPONYM_CODAS = 'dane mere wick ton berg holm ford ley sen vik rand ell ock ard is'.split(' ');
const DRUG_ONSETS = 'bel cor dal fen gal hex lor mer nov pal quin ral sev tol ven zar'.split(' ');
const DRUG_LINKS = ['a', 'e', 'i', 'o', 'u', 'an', 'el', 'ir', 'om', 'ur'];
/** Invented endings, not the real naming stems, so a drug's class cannot be read off its name. */
const DRUG_ENDINGS = 'arin exol ovane idrex amet utide oxan elix imod arel ostin uvan'.split(' ');

// ---------------------------------------------------------------------------------------------
// Seeded helpers.

type Rng = () => number;

function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[randInt(rng, items.length)]!;
}

function shuffle<T>(rng: Rng, items: readonly T[]): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Draws from a shuffled deck of `values`, reshuffling when it runs out: balanced labels. */
function balanced<T>(rng: Rng, values: readonly T[]): () => T {
  let deck: T[] = [];
  return () => {
    if (deck.length === 0) deck = shuffle(rng, values);
    return deck.pop()!;
  };
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

// ---------------------------------------------------------------------------------------------
// Conditions.

type Attr = 'symptom' | 'population' | 'riskFactor' | 'test' | 'drug' | 'drugClass' | 'sideEffect' | 'complication';

interface Condition {
  name: string;
  system: OrganSystem;
  /** Index of the system in SYSTEMS; conditions with the same index are siblings. */
  sys: number;
  symptom: string;
  population: string;
  riskFactor: string;
  test: string;
  complication: string;
  drug: string;
  drugClass: ClassKey;
  sideEffect: string;
  general: string;
}

function makeConditions(rng: Rng): Condition[] {
  const usedEponyms = new Set<string>();
  const eponym = (): string => {
    for (;;) {
      const e = pick(rng, EPONYM_ONSETS) + pick(rng, EPONYM_CODAS);
      if (!usedEponyms.has(e)) return (usedEponyms.add(e), e);
    }
  };
  const usedDrugs = new Set<string>();
  const drugName = (): string => {
    for (;;) {
      const ending = pick(rng, DRUG_ENDINGS);
      const links = /^[aeiou]/.test(ending) ? DRUG_LINKS.filter((l) => !/[aeiou]$/.test(l)) : DRUG_LINKS;
      const d = pick(rng, DRUG_ONSETS) + pick(rng, links) + ending;
      if (!usedDrugs.has(d)) return (usedDrugs.add(d), d);
    }
  };
  const out: Condition[] = [];
  SYSTEMS.forEach((system, sys) => {
    // Five eponyms per system; three names join two of them, so siblings share name words.
    const eps = [eponym(), eponym(), eponym(), eponym(), eponym()];
    const names = [
      ...eps.map((e, i) => `${e} ${system.nouns[i % 4]}`),
      `${eps[0]}-${eps[2]} ${system.nouns[1]}`,
      `${eps[1]}-${eps[3]} ${system.nouns[2]}`,
      `${eps[4]}-${eps[0]} ${system.nouns[3]}`,
    ];
    const symptoms = shuffle(rng, system.symptoms);
    const tests = shuffle(rng, system.tests);
    const complications = shuffle(rng, system.complications);
    const populations = shuffle(rng, POPULATIONS);
    const risks = shuffle(rng, RISK_FACTORS);
    const classOrder = shuffle(rng, [0, 0, 1, 1, 2, 2, 3, 3]);
    const sideEffectUsed = new Map<ClassKey, Set<string>>();
    shuffle(rng, names).forEach((name, i) => {
      const drugClass = system.classes[classOrder[i]!]!;
      const cls: DrugClass = CLASSES[drugClass];
      const used = sideEffectUsed.get(drugClass) ?? new Set<string>();
      sideEffectUsed.set(drugClass, used);
      const sideEffect = pick(
        rng,
        cls.sideEffects.filter((s) => !used.has(s)),
      );
      used.add(sideEffect);
      out.push({
        name,
        system,
        sys,
        symptom: symptoms[i]!,
        population: populations[i]!,
        riskFactor: risks[i]!,
        test: tests[i]!,
        complication: complications[i]!,
        drug: drugName(),
        drugClass,
        sideEffect,
        general: pick(rng, GENERAL_FEATURES),
      });
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Passages: six kinds per condition, three phrasings each. Each phrasing lists the facts (of its
// condition) that it states; a question's gold passages are those stating its fact.

interface Ctx {
  c: Condition;
  /** A sibling named (without its facts) as a look-alike. */
  sib: string;
  cls: DrugClass;
}

interface Template {
  facts: Attr[];
  text: (x: Ctx) => string;
}

type PassageKind = 'overview' | 'risk' | 'diagnosis' | 'treatment' | 'complications' | 'drug';

const TEMPLATES: Record<PassageKind, Template[]> = {
  overview: [
    {
      facts: ['symptom', 'population'],
      text: ({ c, sib }) =>
        `${c.name} is an uncommon ${c.system.adj} disorder that mostly affects ${c.population}. Its hallmark is ${c.symptom}, often accompanied by ${c.general}. Symptoms tend to build over several weeks rather than appear overnight. Patients are usually looked after by a ${c.system.specialty} team, and the condition is considered separate from ${sib}.`,
    },
    {
      facts: ['symptom', 'population'],
      text: ({ c, sib }) =>
        `${c.name} mainly affects ${c.population}. The defining complaint is ${c.symptom}; many patients also report ${c.general}. It is classed among the ${c.system.adj} disorders of ${c.system.organ}, and it is often mistaken for ${sib} at first. Most people can recall the week the symptoms began.`,
    },
    {
      facts: ['symptom', 'population'],
      text: ({ c, sib }) =>
        `Among ${c.system.adj} conditions, ${c.name} stands out because it presents with ${c.symptom}. It is seen most often in ${c.population}, and ${c.general} is common early in the course. Clinicians in ${c.system.specialty} regard it as rare but treatable, and they keep ${sib} in mind as the main alternative.`,
    },
  ],
  risk: [
    {
      facts: ['riskFactor'],
      text: ({ c, sib }) =>
        `The strongest known risk factor for ${c.name} is ${c.riskFactor}. Doctors ask about ${c.riskFactor} in anyone with unexplained ${c.general}, because ${c.name} and ${sib} can look alike in the early stages. Lowering the exposure reduces the chance of relapse, although it does not remove it entirely.`,
    },
    {
      facts: ['riskFactor'],
      text: ({ c, sib }) =>
        `Case series of ${c.name} point to ${c.riskFactor} as the leading risk factor. The disorder affects ${c.system.organ}, and a careful history is the first step: when ${c.riskFactor} is present, the threshold for further tests is lower. Other ${c.system.adj} disorders such as ${sib} show no such link.`,
    },
    {
      facts: ['riskFactor'],
      text: ({ c }) =>
        `Why some people develop ${c.name} is only partly understood. The clearest association is with ${c.riskFactor}, which roughly triples the risk in most reports. Screening is not routine, but people with ${c.riskFactor} who develop ${c.general} are often referred to ${c.system.specialty} early.`,
    },
  ],
  diagnosis: [
    {
      facts: ['test'],
      text: ({ c, sib }) =>
        `The diagnosis of ${c.name} is confirmed by ${c.test}. A normal result makes the condition unlikely, and an abnormal one usually settles the question without further testing. Because ${sib} can cause a similar picture, the result is read alongside the history and examination.`,
    },
    {
      facts: ['test'],
      text: ({ c, sib }) =>
        `When ${c.name} is suspected, the key investigation is ${c.test}. Routine blood tests are often normal or show only nonspecific changes. The ${c.system.specialty} team relies on ${c.test} both to confirm the diagnosis and to tell ${c.name} apart from ${sib}.`,
    },
    {
      facts: ['test'],
      text: ({ c }) =>
        `No single symptom proves ${c.name}. The confirmatory test is ${c.test}, which should be arranged early when the history fits. Repeat testing is rarely needed, and results usually come back within a few days, after which treatment can start. A borderline result is discussed at a multidisciplinary meeting.`,
    },
  ],
  treatment: [
    {
      facts: ['drug'],
      text: ({ c }) =>
        `First-line treatment for ${c.name} is ${c.drug}. It is usually started at a low dose and increased over two to four weeks while symptoms are reviewed. Most patients notice improvement within a month. If ${c.drug} is not tolerated, the ${c.system.specialty} team chooses a second-line option case by case.`,
    },
    {
      facts: ['drug', 'drugClass'],
      text: ({ c, sib, cls }) =>
        `${c.name} is treated first with ${c.drug}, ${cls.article} ${cls.name}. Treatment normally continues for at least six months, and stopping early is a common cause of relapse. ${cap(sib)} is managed differently, so the distinction matters before a prescription is written. Blood tests are repeated at each review.`,
    },
    {
      facts: ['drug'],
      text: ({ c }) =>
        `Guidelines recommend ${c.drug} as the first-line drug for ${c.name}. Response is judged on symptoms and on repeat testing after three months. Lifestyle advice is given alongside the medicine, and patients are told to report ${c.general} or any new problem promptly.`,
    },
  ],
  complications: [
    {
      facts: ['complication'],
      text: ({ c }) =>
        `Left untreated, ${c.name} can lead to ${c.complication}. This is the complication clinicians worry about most, and follow-up visits are planned to catch it early. With prompt treatment the outlook is good, and most patients return to normal activities within a year.`,
    },
    {
      facts: ['complication'],
      text: ({ c, sib }) =>
        `The main complication of ${c.name} is ${c.complication}, which develops in a minority of patients, usually those diagnosed late. Warning signs are explained at diagnosis, and patients are given a number to call if they appear. ${cap(sib)}, a related ${c.system.adj} disorder, carries a different set of risks.`,
    },
    {
      facts: ['complication'],
      text: ({ c }) =>
        `Most people with ${c.name} recover fully, but ${c.complication} is a recognised complication when treatment is delayed. Regular review in ${c.system.specialty} clinics is advised for the first two years, and a relapse is treated with the same approach as the first episode.`,
    },
  ],
  drug: [
    {
      facts: ['drug', 'drugClass', 'sideEffect'],
      text: ({ c, cls }) =>
        `${cap(c.drug)} is ${cls.article} ${cls.name}. It ${cls.mechanism}. Its main use is as first-line treatment for ${c.name}. The most common adverse effect is ${c.sideEffect}, which often settles after the first few weeks. Dose adjustment may be needed in older patients.`,
    },
    {
      facts: ['drug', 'drugClass', 'sideEffect'],
      text: ({ c, cls }) =>
        `${cap(c.drug)} belongs to the ${cls.name} class and ${cls.mechanism}. It is licensed chiefly for ${c.name}. Patients should be warned about ${c.sideEffect}, the adverse effect reported most often in trials. It is taken once daily, with or without food, and the dose is reviewed after the first month.`,
    },
    {
      facts: ['drug', 'drugClass', 'sideEffect'],
      text: ({ c, cls }) =>
        `${cap(c.drug)} ${cls.mechanism}. As ${cls.article} ${cls.name}, it shares its class with several other agents, but it is the first-line choice for ${c.name}. The adverse effect seen most often is ${c.sideEffect}. Liver and kidney function are checked before starting, and again after three months of use.`,
    },
  ],
};

const PASSAGE_KINDS = Object.keys(TEMPLATES) as PassageKind[];

// ---------------------------------------------------------------------------------------------
// Questions: for each fact, a multiple-choice and a yes/no phrasing (two of each). Wrong options
// and the false claims of "no" questions come from sibling conditions of the same organ system.

interface QuestionForm {
  mc: (c: Condition) => string;
  yn: (c: Condition, claim: string) => string;
}

const QUESTION_FORMS: Record<Attr, QuestionForm[]> = {
  symptom: [
    { mc: (c) => `Which complaint is the hallmark of ${c.name}?`, yn: (c, v) => `Is ${v} the hallmark complaint of ${c.name}?` },
    {
      mc: (c) => `A patient with ${c.name} would most typically present with which of the following?`,
      yn: (c, v) => `Does ${c.name} typically present with ${v}?`,
    },
  ],
  population: [
    { mc: (c) => `Which group is most often affected by ${c.name}?`, yn: (c, v) => `Is ${c.name} seen mainly in ${v}?` },
    { mc: (c) => `Who does ${c.name} mainly affect?`, yn: (c, v) => `Does ${c.name} mostly affect ${v}?` },
  ],
  riskFactor: [
    {
      mc: (c) => `What is the strongest known risk factor for ${c.name}?`,
      yn: (c, v) => `Is ${v} the main risk factor for ${c.name}?`,
    },
    {
      mc: (c) => `Which exposure is most closely associated with developing ${c.name}?`,
      yn: (c, v) => `Is ${c.name} most closely associated with ${v}?`,
    },
  ],
  test: [
    {
      mc: (c) => `Which investigation confirms the diagnosis of ${c.name}?`,
      yn: (c, v) => `Is the diagnosis of ${c.name} confirmed by ${v}?`,
    },
    { mc: (c) => `How is ${c.name} diagnosed?`, yn: (c, v) => `Is ${v} the key test for ${c.name}?` },
  ],
  drug: [
    {
      mc: (c) => `Which drug is the first-line treatment for ${c.name}?`,
      yn: (c, v) => `Is ${v} the first-line drug for ${c.name}?`,
    },
    { mc: (c) => `What should be prescribed first for ${c.name}?`, yn: (c, v) => `Is ${c.name} treated first with ${v}?` },
  ],
  drugClass: [
    {
      mc: (c) => `To which drug class does ${c.drug}, used for ${c.name}, belong?`,
      yn: (c, v) => `Does ${c.drug} belong to the ${v} class?`,
    },
    {
      mc: (c) => `What kind of drug is ${c.drug}?`,
      yn: (c, v) => `Is ${c.drug}, the first-line drug for ${c.name}, classed as ${withArticle(v)}?`,
    },
  ],
  sideEffect: [
    {
      mc: (c) => `Which adverse effect is most commonly reported with ${c.drug}?`,
      yn: (c, v) => `Is ${v} the most common adverse effect of ${c.drug}?`,
    },
    {
      mc: (c) => `Patients starting ${c.drug} should be warned mainly about which side effect?`,
      yn: (c, v) => `Is ${v} the side effect most often seen with ${c.drug}?`,
    },
  ],
  complication: [
    {
      mc: (c) => `Which complication is most feared in untreated ${c.name}?`,
      yn: (c, v) => `Is ${v} the main complication of untreated ${c.name}?`,
    },
    {
      mc: (c) => `What can ${c.name} lead to if left untreated?`,
      yn: (c, v) => `Does untreated ${c.name} chiefly lead to ${v}?`,
    },
  ],
};

/** "an ACE inhibitor", "a triptan": a class name with its article. */
function withArticle(className: string): string {
  const cls: DrugClass | undefined = Object.values(CLASSES).find((k) => k.name === className);
  return `${cls?.article ?? 'a'} ${className}`;
}

const ATTRS = Object.keys(QUESTION_FORMS) as Attr[];

/** The value of an attribute as options and claims show it. */
function valueOf(c: Condition, a: Attr): string {
  return a === 'drugClass' ? CLASSES[c.drugClass].name : c[a];
}

const SPLIT_SHARE = { validation: 0.15, test: 0.15 };

// ---------------------------------------------------------------------------------------------
// Generation.

export function toJsonl(records: readonly object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** The demo set for a seed: the same seed always gives the same bytes. */
export function generateDemoData(seed = DEMO_SEED): DemoData {
  const rng = mulberry32(seed);
  const conditions = makeConditions(rng);
  const siblings = (c: Condition): Condition[] => conditions.filter((o) => o.sys === c.sys && o !== c);

  // Passages, then a shuffled order for the ids.
  interface Draft {
    title: string;
    text: string;
    cond: number;
    facts: Attr[];
  }
  const drafts: Draft[] = [];
  conditions.forEach((c, ci) => {
    for (const kind of PASSAGE_KINDS) {
      const t = pick(rng, TEMPLATES[kind]);
      const sib = pick(rng, siblings(c)).name;
      const text = t.text({ c, sib, cls: CLASSES[c.drugClass] });
      drafts.push({ title: kind === 'drug' ? cap(c.drug) : c.name, text, cond: ci, facts: t.facts });
    }
  });
  const order = shuffle(
    rng,
    drafts.map((_, i) => i),
  );
  const passageId = new Map<number, string>();
  const passages: DemoPassage[] = order.map((di, k) => {
    const id = `demo-p${String(k + 1).padStart(4, '0')}`;
    passageId.set(di, id);
    const d = drafts[di]!;
    return { id, title: d.title, text: d.text };
  });
  const goldOf = (ci: number, a: Attr): string[] =>
    drafts
      .map((d, di) => ({ d, di }))
      .filter(({ d }) => d.cond === ci && d.facts.includes(a))
      .map(({ di }) => passageId.get(di)!)
      .sort();

  // Questions: six facts per condition (seven for every fourth), kinds and answers balanced.
  interface QDraft {
    cond: number;
    question: string;
    options?: string[];
    answer: string;
    gold: string[];
  }
  const nextKind = balanced(rng, ['mc', 'yn'] as const);
  const nextIndex = balanced(rng, [0, 1, 2, 3]);
  const nextYes = balanced(rng, [true, false]);
  const byCondition: QDraft[][] = conditions.map((c, ci) => {
    const attrs = shuffle(rng, ATTRS).slice(0, ci % 4 === 0 ? 7 : 6);
    return attrs.map((a) => {
      const form = pick(rng, QUESTION_FORMS[a]);
      const truth = valueOf(c, a);
      const wrong = shuffle(
        rng,
        [...new Set(siblings(c).map((s) => valueOf(s, a)))].filter((v) => v !== truth),
      );
      const gold = goldOf(ci, a);
      if (nextKind() === 'mc') {
        const options = wrong.slice(0, 3);
        if (options.length < 3) throw new Error(`not enough options for ${c.name} / ${a}`);
        options.splice(nextIndex(), 0, truth);
        return { cond: ci, question: form.mc(c), options, answer: truth, gold };
      }
      const yes = nextYes();
      return { cond: ci, question: cap(form.yn(c, yes ? truth : wrong[0]!)), answer: yes ? 'yes' : 'no', gold };
    });
  });

  // Splits, stratified by condition: each condition gets one validation or test question
  // (alternating), then a second held-out one in turn until the shares are met; the rest train.
  const total = byCondition.reduce((n, qs) => n + qs.length, 0);
  const want = { validation: Math.round(total * SPLIT_SHARE.validation), test: Math.round(total * SPLIT_SHARE.test) };
  const have = { validation: 0, test: 0 };
  const splits: DemoSplit[][] = byCondition.map((qs) => qs.map((): DemoSplit => 'train'));
  const condOrder = shuffle(
    rng,
    conditions.map((_, i) => i),
  );
  condOrder.forEach((ci, k) => {
    const s: 'validation' | 'test' = k % 2 === 0 ? 'validation' : 'test';
    splits[ci]![0] = s;
    have[s]++;
  });
  condOrder.forEach((ci, k) => {
    const s: 'validation' | 'test' = k % 2 === 0 ? 'test' : 'validation';
    if (have[s] < want[s]) {
      splits[ci]![1] = s;
      have[s]++;
    }
  });

  const flat = byCondition.flatMap((qs, ci) => qs.map((q, qi) => ({ ...q, split: splits[ci]![qi]! })));
  const questionsOut: DemoQuestion[] = [];
  const questionEntity: string[] = [];
  shuffle(rng, flat).forEach((q, k) => {
    // Keys in the documented order: id, question, options (multiple choice only), answer, gold, split.
    questionsOut.push({
      id: `demo-q${String(k + 1).padStart(4, '0')}`,
      question: q.question,
      ...(q.options ? { options: q.options } : {}),
      answer: q.answer,
      gold_doc_ids: q.gold,
      split: q.split,
    });
    questionEntity.push(conditions[q.cond]!.name);
  });

  return {
    passages,
    questions: questionsOut,
    questionEntity,
    corpusJsonl: toJsonl(passages),
    questionsJsonl: toJsonl(questionsOut),
  };
}

// ---------------------------------------------------------------------------------------------
// Writing the files, when run as a script.

export const DEMO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'public', 'demo');

function main(): void {
  const data = generateDemoData();
  mkdirSync(DEMO_DIR, { recursive: true });
  writeFileSync(path.join(DEMO_DIR, 'corpus.jsonl'), data.corpusJsonl);
  writeFileSync(path.join(DEMO_DIR, 'questions.jsonl'), data.questionsJsonl);
  const mc = data.questions.filter((q) => q.options).length;
  const splits = { train: 0, validation: 0, test: 0 };
  for (const q of data.questions) splits[q.split]++;
  console.log(
    `wrote ${path.relative(process.cwd(), DEMO_DIR)}: ${data.passages.length} passages, ${data.questions.length} questions ` +
      `(${mc} multiple choice, ${data.questions.length - mc} yes/no; ${splits.train} train, ${splits.validation} validation, ${splits.test} test)`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
