// Note markdown (src/components/markdown.ts) in Chromium, where DOMPurify has a real DOM: GFM
// survives (tables, fenced code, task lists, links), and every way of smuggling script, styles or
// frames into an imported notebook's notes is stripped. Outputs are parsed back into a DOM and
// checked element by element, not matched as strings.
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/components/renderMarkdown';

/** The rendered HTML as a fragment, for assertions on what the page would really get. */
function render(text: string): DocumentFragment {
  const t = document.createElement('template');
  t.innerHTML = renderMarkdown(text);
  return t.content;
}

/** Every attribute of every element, as "tag attr=value", for the blanket checks. */
function attributes(f: DocumentFragment): string[] {
  return [...f.querySelectorAll('*')].flatMap((el) => [...el.attributes].map((a) => `${el.localName} ${a.name}=${a.value}`));
}

function expectInert(f: DocumentFragment) {
  expect(f.querySelectorAll('script, iframe, object, embed, svg, math, style, form, input, base, meta, link').length).toBe(0);
  for (const a of attributes(f)) {
    expect(a).not.toMatch(/^\S+ on/i); // event handlers
    expect(a).not.toMatch(/^\S+ style=/i);
    expect(a).not.toMatch(/javascript:|vbscript:/i);
  }
  for (const el of f.querySelectorAll('[href]')) expect(el.getAttribute('href')).not.toMatch(/^\s*(javascript|data|vbscript):/i);
}

describe('renderMarkdown keeps notes', () => {
  it('renders GFM tables with alignment', () => {
    const f = render('| gene | p |\n| :--- | ---: |\n| BRCA1 | 0.01 |\n| TP53 | 0.2 |\n');
    expect(f.querySelectorAll('table thead th')).toHaveLength(2);
    expect([...f.querySelectorAll('table tbody tr')].map((r) => r.textContent?.trim().replace(/\s+/g, ' '))).toEqual([
      'BRCA1 0.01',
      'TP53 0.2',
    ]);
    expect(f.querySelector('th')?.getAttribute('align')).toBe('left');
    expect(f.querySelector('td:last-child')?.getAttribute('align')).toBe('right');
  });

  it('keeps fenced code verbatim, HTML in it escaped, with its language class', () => {
    const f = render('```ts\nconst a = "<script>alert(1)</script>";\n```\n');
    const code = f.querySelector('pre > code');
    expect(code?.className).toBe('language-ts');
    expect(code?.textContent).toBe('const a = "<script>alert(1)</script>";\n');
    expect(f.querySelectorAll('script')).toHaveLength(0);
  });

  it('keeps headings, emphasis, lists, quotes, rules, inline code and strikethrough', () => {
    const f = render('# Run 3\n\n*lr* **2e-4**, `k=8`, ~~k=4~~\n\n1. one\n2. two\n\n> quoted\n\n---\n\nline  \nbreak');
    expect(f.querySelector('h1')?.textContent).toBe('Run 3');
    expect(f.querySelector('em')?.textContent).toBe('lr');
    expect(f.querySelector('strong')?.textContent).toBe('2e-4');
    expect(f.querySelector('p > code')?.textContent).toBe('k=8');
    expect(f.querySelector('del')?.textContent).toBe('k=4');
    expect(f.querySelectorAll('ol > li')).toHaveLength(2);
    expect(f.querySelector('blockquote')?.textContent?.trim()).toBe('quoted');
    expect(f.querySelectorAll('hr')).toHaveLength(1);
    expect(f.querySelectorAll('br')).toHaveLength(1);
  });

  it('opens links in a new tab with no opener and no referrer', () => {
    const f = render('[PubMed](https://pubmed.ncbi.nlm.nih.gov/) and <https://huggingface.co> and [mail](mailto:a@b.org)');
    const links = [...f.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual([
      'https://pubmed.ncbi.nlm.nih.gov/',
      'https://huggingface.co',
      'mailto:a@b.org',
    ]);
    for (const a of links) {
      expect(a.getAttribute('target')).toBe('_blank');
      expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    }
    // Even when the raw HTML asked for something else.
    const raw = render('<a href="https://example.org" target="_self" rel="opener">x</a>').querySelector('a');
    expect(raw?.getAttribute('target')).toBe('_blank');
    expect(raw?.getAttribute('rel')).toBe('noopener noreferrer');
  });

  it('turns task lists into text marks, not form inputs', () => {
    const f = render('- [x] load data\n- [ ] train\n');
    expect(f.querySelectorAll('input')).toHaveLength(0);
    expect([...f.querySelectorAll('li')].map((li) => li.textContent?.trim())).toEqual(['\u2611 load data', '\u2610 train']);
  });

  it('keeps same-origin and inline raster images, drops remote and SVG ones', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const f = render(
      `![a](/demo/plot.png) ![b](${png}) ![c](https://tracker.example/p.gif) ![d](data:image/svg+xml;base64,PHN2Zz4=)`,
    );
    const srcs = [...f.querySelectorAll('img')].map((i) => i.getAttribute('src'));
    expect(srcs).toEqual(['/demo/plot.png', png, null, null]);
    expect([...f.querySelectorAll('img')].map((i) => i.getAttribute('alt'))).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('renderMarkdown strips', () => {
  it('<script> elements, with their text', () => {
    const f = render('hello <script>window.__pwned = 1</script>\n\n<script src="/x.js"></script>');
    expectInert(f);
    expect(f.textContent).not.toContain('__pwned');
    expect(f.textContent).toContain('hello');
  });

  it('<img onerror> and other event handlers', () => {
    const f = render('<img src="x" onerror="window.__pwned=1"> <p onclick="alert(1)" onmouseover=alert(1)>t</p>');
    expectInert(f);
    expect(f.textContent?.trim()).toBe('t');
  });

  it('javascript: links, raw and in markdown, however they are written', () => {
    const inputs = [
      '<a href="javascript:alert(1)">a</a>',
      '[a](javascript:alert(1))',
      '[a](JaVaScRiPt:alert(1))',
      '[a]( javascript:alert(1))',
      '[a](&#106;avascript:alert(1))',
      '[a](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))',
      '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">a</a>',
      '<a href="jav&#x09;ascript:alert(1)">a</a>',
      '<a href="java\u0000script:alert(1)">a</a>',
      '[a][r]\n\n[r]: javascript:alert(1)',
      '<javascript:alert(1)>',
      '[a](vbscript:msgbox(1))',
    ];
    for (const text of inputs) {
      const f = render(text);
      expectInert(f);
      for (const a of f.querySelectorAll('a')) {
        const href = a.getAttribute('href');
        if (href !== null) expect(new URL(href, location.href).protocol, `${text} -> ${href}`).toMatch(/^https?:$/);
      }
    }
  });

  it('data: links', () => {
    for (const text of [
      '[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
      '<a href="data:text/html,<script>alert(1)</script>">a</a>',
    ]) {
      const f = render(text);
      expectInert(f);
      expect(f.querySelector('a')?.hasAttribute('href') ?? false).toBe(false);
    }
  });

  it('<iframe>, <object>, <embed>, <form>, <input>, <base>, <meta>, <link>', () => {
    const f = render(
      '<iframe src="https://example.org"></iframe><iframe srcdoc="<script>alert(1)</script>"></iframe>' +
        '<object data="x.swf"></object><embed src="x.swf"><form action="https://evil.example"><input name="q"><button>go</button></form>' +
        '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=https://evil.example"><link rel="stylesheet" href="https://evil.example/a.css">',
    );
    expectInert(f);
    expect(f.querySelectorAll('button')).toHaveLength(0);
  });

  it('<svg onload> and MathML', () => {
    const f = render(
      '<svg onload="alert(1)"><script>alert(1)</script><a href="javascript:alert(1)"><text>x</text></a></svg><math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    );
    expectInert(f);
  });

  it('style attributes and <style> elements', () => {
    const f = render('<p style="position:fixed;inset:0;background:red">cover</p><style>body{display:none}</style>\n\n*ok*');
    expectInert(f);
    expect(f.querySelector('p')?.textContent).toBe('cover');
    expect(f.textContent).not.toContain('display:none');
  });

  it('ids, names, classes and data attributes (no DOM clobbering, no borrowed app styles)', () => {
    const f = render('<p id="root" name="gpu" class="panel help" data-testid="gpu-status" data-status="ready">x</p>');
    expect(attributes(f)).toEqual([]);
  });

  it('entity-encoded and mutation tricks', () => {
    const inputs = [
      '&lt;script&gt;alert(1)&lt;/script&gt;', // stays text
      '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
      '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
      '<svg><p><style><img src=x onerror=alert(1)></style></p></svg>',
      '<img src="x" alt="&quot; onerror=&quot;alert(1)">',
      '<a href="https://ok.example" title="&#34; onmouseover=&#34;alert(1)">a</a>',
      '<scr<script>ipt>alert(1)</script>',
    ];
    for (const text of inputs) expectInert(render(text));
    expect(render('&lt;script&gt;alert(1)&lt;/script&gt;').textContent?.trim()).toBe('<script>alert(1)</script>');
  });

  it('leaves nothing that runs when put into the page', async () => {
    const host = document.createElement('div');
    const w = window as unknown as { __pwned?: number };
    delete w.__pwned;
    host.innerHTML = renderMarkdown(
      '<img src=x onerror="window.__pwned=1"><svg><animate onbegin="window.__pwned=2" attributeName=x dur=1s /></svg>' +
        '<details open ontoggle="window.__pwned=3"><summary>x</summary></details>[a](javascript:window.__pwned=4)',
    );
    document.body.append(host);
    for (const a of host.querySelectorAll('a')) a.click();
    await new Promise((r) => setTimeout(r, 100));
    host.remove();
    expect(w.__pwned).toBeUndefined();
  });
});
