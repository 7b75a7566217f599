/** Closed-loop load: `concurrency` loops, each running one task after another, for a count or a duration. */
import { performance } from 'node:perf_hooks';

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  label: string;
  concurrency: number;
  /** tasks that succeeded */
  ok: number;
  errors: number;
  /** up to 5 distinct error messages */
  errorSamples: string[];
  elapsedMs: number;
  /** successful tasks per second of wall time */
  perSec: number;
  /** latency of the successful tasks, ms */
  latency: Latency;
  /** extra latencies a task recorded with `mark` (e.g. the time to the API's 201), ms */
  marks: Record<string, Latency>;
  /** the raw latencies (for merging rounds) */
  samples: number[];
  markSamples: Record<string, number[]>;
  /** tasks per second of each merged part (one entry when not merged) */
  partsPerSec: number[];
}

/** Nearest-rank percentiles of the values (ms), rounded to 0.01 ms. */
export function latencyOf(values: number[]): Latency {
  if (values.length === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), max: r(sorted[sorted.length - 1]), mean: r(sorted.reduce((s, x) => s + x, 0) / sorted.length) };
}

export interface LoadOptions {
  label: string;
  concurrency: number;
  /** run exactly this many tasks ... */
  count?: number;
  /** ... or start tasks until this many ms have passed */
  durationMs?: number;
  /** progress line every this many ms (default 2000; 0 = none) */
  progressEveryMs?: number;
  progress: (msg: string) => void;
  /** checked before each task: true stops the loops (Ctrl-C) */
  aborted?: () => boolean;
}

/** `mark(name)` records the time since the task started under `name`. */
export type Task = (i: number, mark: (name: string) => void) => Promise<void>;

export async function runLoad(opts: LoadOptions, task: Task): Promise<LoadResult> {
  if (opts.count === undefined && opts.durationMs === undefined) throw new Error('runLoad: give count or durationMs');
  const latencies: number[] = [];
  const marks = new Map<string, number[]>();
  const errorSamples = new Set<string>();
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const end = opts.durationMs !== undefined ? t0 + opts.durationMs : Infinity;
  const more = () => !opts.aborted?.() && (opts.count !== undefined ? next < opts.count : performance.now() < end);

  const every = opts.progressEveryMs ?? 2000;
  let lastDone = 0;
  let lastAt = t0;
  const ticker =
    every > 0
      ? setInterval(() => {
          const now = performance.now();
          const done = latencies.length;
          const rate = ((done - lastDone) * 1000) / (now - lastAt);
          lastDone = done;
          lastAt = now;
          const of = opts.count !== undefined ? `${done}/${opts.count}` : `${done} in ${((now - t0) / 1000).toFixed(0)} s`;
          opts.progress(`${opts.label}: ${of} done, ${rate.toFixed(1)}/s now${errors ? `, ${errors} errors` : ''}`);
        }, every)
      : undefined;

  const loop = async () => {
    while (more()) {
      const i = next++;
      const started = performance.now();
      const mark = (name: string) => {
        let list = marks.get(name);
        if (!list) marks.set(name, (list = []));
        list.push(performance.now() - started);
      };
      try {
        await task(i, mark);
        latencies.push(performance.now() - started);
      } catch (e) {
        errors++;
        if (errorSamples.size < 5) errorSamples.add(String((e as Error)?.message ?? e).slice(0, 300));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, loop));
  } finally {
    if (ticker) clearInterval(ticker);
  }
  return summarize(opts.label, opts.concurrency, latencies, Object.fromEntries(marks), errors, [...errorSamples], performance.now() - t0);
}

const rate = (ok: number, elapsedMs: number) => (elapsedMs > 0 ? Math.round((ok * 1000 * 100) / elapsedMs) / 100 : NaN);

function summarize(label: string, concurrency: number, samples: number[], markSamples: Record<string, number[]>, errors: number, errorSamples: string[], elapsedMs: number, partsPerSec?: number[]): LoadResult {
  return {
    label,
    concurrency,
    ok: samples.length,
    errors,
    errorSamples,
    elapsedMs: Math.round(elapsedMs),
    perSec: rate(samples.length, elapsedMs),
    latency: latencyOf(samples),
    marks: Object.fromEntries(Object.entries(markSamples).map(([k, v]) => [k, latencyOf(v)])),
    samples,
    markSamples,
    partsPerSec: partsPerSec ?? [rate(samples.length, elapsedMs)],
  };
}

/** One result of several runs of the same load (rounds): tasks over the summed time, latencies pooled. */
export function mergeResults(label: string, parts: LoadResult[]): LoadResult {
  const markSamples: Record<string, number[]> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.markSamples)) (markSamples[k] ??= []).push(...v);
  return summarize(
    label,
    parts[0]?.concurrency ?? 0,
    parts.flatMap((p) => p.samples),
    markSamples,
    parts.reduce((n, p) => n + p.errors, 0),
    [...new Set(parts.flatMap((p) => p.errorSamples))].slice(0, 5),
    parts.reduce((n, p) => n + p.elapsedMs, 0),
    parts.map((p) => p.perSec),
  );
}
