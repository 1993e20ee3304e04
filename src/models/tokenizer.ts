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
    const cfg = (tokenizerConfig ?? {}) as { tokenizer_class?: string };
    const name = cfg.tokenizer_class?.replace(/Fast$/, '') ?? 'PreTrainedTokenizer';
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
