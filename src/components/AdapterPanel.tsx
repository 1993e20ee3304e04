// What WebGPU adapter the engine got: identity, fallback flag, features and the limits that
// decide how large a model and batch fit. Presentational.

import { formatBytes } from '../core/format';
import type { GpuInfo } from '../worker/protocol';

const KEY_LIMITS: Array<{ name: string; label: string; unit: 'bytes' | 'count' }> = [
  { name: 'maxStorageBufferBindingSize', label: 'Max storage binding', unit: 'bytes' },
  { name: 'maxBufferSize', label: 'Max buffer', unit: 'bytes' },
  { name: 'maxComputeWorkgroupStorageSize', label: 'Workgroup memory', unit: 'bytes' },
  { name: 'maxComputeInvocationsPerWorkgroup', label: 'Invocations per workgroup', unit: 'count' },
  { name: 'maxComputeWorkgroupsPerDimension', label: 'Workgroups per dimension', unit: 'count' },
];

export function AdapterPanel({ info }: { info: GpuInfo }) {
  return (
    <section className="panel" aria-labelledby="adapter-title" data-testid="adapter-panel">
      <h2 id="adapter-title">GPU adapter</h2>
      <dl className="facts">
        <Fact label="Vendor" testid="adapter-vendor" value={info.vendor || 'unknown'} />
        <Fact label="Architecture" testid="adapter-architecture" value={info.architecture || 'unknown'} />
        <Fact label="Description" testid="adapter-description" value={info.description || info.device || '(not reported)'} />
        <Fact
          label="Fallback adapter"
          testid="adapter-fallback"
          value={info.isFallbackAdapter ? 'yes: software rendering, expect CPU-like speed' : 'no'}
        />
        {KEY_LIMITS.map((l) => {
          const v = info.limits[l.name];
          return (
            <Fact
              key={l.name}
              label={l.label}
              title={l.name}
              testid={`adapter-limit-${l.name}`}
              value={v === undefined ? 'n/a' : l.unit === 'bytes' ? formatBytes(v) : v.toLocaleString('en-US')}
            />
          );
        })}
      </dl>
      <h3>Features</h3>
      {info.features.length === 0 ? (
        <p className="muted">None beyond core WebGPU.</p>
      ) : (
        <ul className="features" data-testid="adapter-features">
          {info.features.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
      )}
      {!info.hasF16 && <p className="muted">No shader-f16 on this adapter: kernels run in f32.</p>}
    </section>
  );
}

function Fact({ label, value, testid, title }: { label: string; value: string; testid: string; title?: string }) {
  return (
    <div className="fact-row">
      <dt title={title}>{label}</dt>
      <dd data-testid={testid}>{value}</dd>
    </div>
  );
}
