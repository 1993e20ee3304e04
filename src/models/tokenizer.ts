// The one door to @huggingface/transformers: tokenizers, built from a checkpoint's
// tokenizer.json and tokenizer_config.json exactly as AutoTokenizer builds them (the class named
// by tokenizer_config.tokenizer_class, "Fast" suffix dropped, PreTrainedTokenizer otherwise).
// MedRank never tokenizes by hand; everything else in the code sees only this small interface.

import * as transformers from '@huggingface/transformers';
import { ModelConfigError } from './errors';

type HfTokenizer = InstanceType<typeof transformers.PreTrainedTokenizer>;

export interface SpecialTokens {
  pad: number | null;
  bos: number | null;
  eos: number | null;
  unk: number | null;
  cls: number | null;
  sep: number | null;
  mask: number | null;
}

function clsToken(hf: HfTokenizer): string {
  const cfg = hf._tokenizerConfig as { cls_token?: string | { content?: string } } | undefined;
  const t = cfg?.cls_token;
  return typeof t === 'string' ? t : (t?.content ?? '[CLS]');
}

export class Tokenizer {
  readonly special: SpecialTokens;
  readonly vocabSize: number;

  private constructor(
    private readonly hf: HfTokenizer,
    readonly className: string,
  ) {
    const id = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);
    this.special = {
      pad: id(hf.pad_token_id),
      bos: id(hf.bos_token_id),
      eos: id(hf.eos_token_id),
      unk: id(hf.unk_token_id),
      cls: this.tokenId(clsToken(hf)),
      sep: id(hf.sep_token_id),
      mask: id(hf.mask_token_id),
    };
    let max = -1;
    for (const v of hf.get_vocab().values()) max = Math.max(max, v);
    this.vocabSize = max + 1;
  }

  /** Build from the parsed contents of tokenizer.json and tokenizer_config.json. */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown = {}): Tokenizer {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || !('model' in tokenizerJson))
      throw new ModelConfigError(
        'tokenizer.json has no "model" section; MedRank needs the fast-tokenizer file (tokenizer.json), ' +
          'save it from Python with tokenizer.save_pretrained()',
      );
    const cfg = (tokenizerConfig ?? {}) as Record<string, unknown>;
    const cls = cfg['tokenizer_class'];
    const name = typeof cls === 'string' ? cls.replace(/Fast$/, '') : 'PreTrainedTokenizer';
    const exported = (transformers as unknown as Record<string, unknown>)[name];
    const Cls = (
      typeof exported === 'function' && name.endsWith('Tokenizer') ? exported : transformers.PreTrainedTokenizer
    ) as typeof transformers.PreTrainedTokenizer;
    try {
      return new Tokenizer(new Cls(tokenizerJson, cfg), Cls.name);
    } catch (e) {
      throw new ModelConfigError(
        `tokenizer.json could not be loaded (${(e as Error).message}); check that it is a Hugging Face tokenizer file`,
      );
    }
  }

  /** Token ids of `text`, with the model's special tokens ([CLS] ... [SEP], BOS) unless told not to. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** The tokens (strings) of `text`, without special tokens. */
  tokenize(text: string): string[] {
    return this.hf.tokenize(text);
  }

  /** Id of a token string, or null when it is not in the vocabulary. */
  tokenId(token: string): number | null {
    const id = this.hf.get_vocab().get(token);
    return id === undefined ? null : id;
  }

  idToToken(id: number): string | null {
    if (!this.reverse) {
      this.reverse = [];
      for (const [tok, i] of this.hf.get_vocab()) this.reverse[i] = tok;
    }
    return this.reverse[id] ?? null;
  }

  private reverse: string[] | null = null;

  get maxLength(): number {
    return this.hf.model_max_length as number;
  }
}

/** BertTokenizer's defaults, for a tokenizer_config.json that leaves the special tokens out. */
export const BERT_TOKENIZER_DEFAULTS = {
  tokenizer_class: 'BertTokenizer',
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};

/**
 * The tokenizer.json a BERT checkpoint that ships only vocab.txt implies: the same file Hugging
 * Face's converter (BertConverter) writes, so @huggingface/transformers can load older checkpoints
 * (WordPiece, Bert normaliser and pre-tokeniser, [CLS] A [SEP] template). Tokenising stays theirs.
 */
export function wordPieceTokenizerJson(
  vocabTxt: string,
  opts: { lowercase?: boolean; stripAccents?: boolean | null } = {},
): object {
  const tokens = vocabTxt.split(/\r?\n/);
  if (tokens.at(-1) === '') tokens.pop();
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (!(t in vocab)) vocab[t] = i;
  });
  for (const need of ['[UNK]', '[CLS]', '[SEP]'])
    if (!(need in vocab)) throw new ModelConfigError(`vocab.txt has no ${need} token; it is not a BERT WordPiece vocabulary`);
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in vocab);
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: opts.stripAccents ?? null,
      lowercase: opts.lowercase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), seq('A', 0), special('[SEP]', 0), seq('B', 1), special('[SEP]', 1)],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [vocab[t]], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}
