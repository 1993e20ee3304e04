// Shown when there is no WebGPU (or no adapter): which browser or flag to use. Presentational.

export function NoWebGpu({ noAdapter, message }: { noAdapter: boolean; message: string | null }) {
  return (
    <section className="panel help" role="alert" aria-labelledby="nowebgpu-title" data-testid="no-webgpu">
      <h2 id="nowebgpu-title">{noAdapter ? 'WebGPU found no GPU adapter' : 'This browser has no WebGPU'}</h2>
      <p>MedRank trains its models on your GPU through WebGPU. To use it:</p>
      <ul>
        <li>
          Use <strong>Chrome or Edge 113+</strong> (Windows, macOS, ChromeOS, Android).
        </li>
        <li>
          On <strong>Linux</strong>, enable <code>chrome://flags/#enable-unsafe-webgpu</code> or start Chrome with{' '}
          <code>--enable-unsafe-webgpu</code>.
        </li>
        <li>
          Open the page over <strong>https</strong> or from <strong>localhost</strong>: WebGPU needs a secure context.
        </li>
        {noAdapter && (
          <li>
            If it still fails, your GPU or driver may be blocklisted: check <code>chrome://gpu</code> and update the driver.
          </li>
        )}
      </ul>
      {message && (
        <details>
          <summary>Details</summary>
          <p data-testid="no-webgpu-detail">{message}</p>
        </details>
      )}
    </section>
  );
}
